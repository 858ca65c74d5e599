//! gort's procedural macros.
