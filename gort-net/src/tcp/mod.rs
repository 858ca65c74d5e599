//! TCP: listeners, streams, the socket builder, and the stream's halves.

mod listener;
mod socket;
pub(crate) mod split;
pub(crate) mod split_owned;
mod stream;

pub use listener::{Incoming, TcpListener};
pub use socket::TcpSocket;
pub use split::{ReadHalf, WriteHalf};
pub use split_owned::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub use stream::TcpStream;

/// `SO_LINGER` takes whole seconds in a C `int`: a longer linger is capped
/// at `c_int::MAX` seconds (68 years) instead of being truncated, which
/// could turn a long linger into zero (a reset on close).
pub(crate) fn clamp_linger(linger: Option<std::time::Duration>) -> Option<std::time::Duration> {
    let max = std::time::Duration::from_secs(libc::c_int::MAX as u64);
    linger.map(|d| d.min(max))
}
