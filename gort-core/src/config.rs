//! Go's environment variables under gort's names (`GORT_MAXPROCS`, ...).
//!
//! A bad value is an error at `Builder::build` that names the variable, the
//! value and what is accepted, never a silent default.

use std::io;

use crate::runtime::{check_procs, invalid};

/// `GORT_DEBUG`: Go's `GODEBUG` knobs that gort has, comma-separated
/// `key=value` pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Debug {
    /// `schedtrace=MS`: print Go's SCHED line every MS milliseconds (0: off).
    pub(crate) schedtrace_ms: Option<u64>,
    /// `scheddetail=1`: add the per-P and per-M lines.
    pub(crate) scheddetail: Option<bool>,
    /// `sigquit=1`: SIGQUIT prints the task dump instead of killing.
    pub(crate) sigquit: Option<bool>,
    /// `checkdead=0`: turn deadlock detection off (on by default).
    pub(crate) checkdead: Option<bool>,
    /// `gctrace=1`: one line per GC cycle (read by the GC).
    pub(crate) gctrace: Option<bool>,
}

const DEBUG_KEYS: &str = "schedtrace=MS, scheddetail=0|1, sigquit=0|1, checkdead=0|1, gctrace=0|1";

/// `GORT_DEBUG` from the environment.
pub(crate) fn debug_from_env() -> io::Result<Debug> {
    parse_debug(std::env::var_os("GORT_DEBUG").as_deref())
}

pub(crate) fn parse_debug(v: Option<&std::ffi::OsStr>) -> io::Result<Debug> {
    let mut d = Debug::default();
    let Some(raw) = v else { return Ok(d) };
    let s = raw.to_string_lossy();
    let bad = |why: String| invalid(format!("GORT_DEBUG={s:?} is not valid: {why}"));
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| bad(format!("{item:?} is not key=value; accepted: {DEBUG_KEYS}")))?;
        let flag = || match v {
            "0" => Ok(false),
            "1" => Ok(true),
            _ => Err(bad(format!("{k} takes 0 or 1, not {v:?}"))),
        };
        match k {
            "schedtrace" => {
                let ms: u64 = v.parse().map_err(|_| {
                    bad(format!(
                        "schedtrace takes a whole number of milliseconds, not {v:?}"
                    ))
                })?;
                d.schedtrace_ms = Some(ms);
            }
            "scheddetail" => d.scheddetail = Some(flag()?),
            "sigquit" => d.sigquit = Some(flag()?),
            "checkdead" => d.checkdead = Some(flag()?),
            "gctrace" => d.gctrace = Some(flag()?),
            _ => {
                return Err(bad(format!(
                    "unknown setting {k:?}; accepted: {DEBUG_KEYS}"
                )))
            }
        }
    }
    Ok(d)
}

/// `GORT_MAXPROCS`, if set.
pub(crate) fn maxprocs_from_env() -> io::Result<Option<usize>> {
    parse_maxprocs(std::env::var_os("GORT_MAXPROCS").as_deref())
}

pub(crate) fn parse_maxprocs(v: Option<&std::ffi::OsStr>) -> io::Result<Option<usize>> {
    let Some(raw) = v else { return Ok(None) };
    let s = raw.to_string_lossy();
    let bad = |why: String| invalid(format!("GORT_MAXPROCS={s:?} is not valid: {why}"));
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| bad(check_procs(0).unwrap_err()))?;
    check_procs(n).map(Some).map_err(bad)
}

/// `GORT_GOGC`: the GC's heap-growth percentage, or `None` for `off`
/// (Go's `GOGC`). Unset means 100, Go's default.
pub(crate) fn parse_gogc(v: Option<&std::ffi::OsStr>) -> io::Result<Option<u32>> {
    let Some(raw) = v else { return Ok(Some(100)) };
    let s = raw.to_string_lossy();
    let t = s.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    t.parse::<u32>().map(Some).map_err(|_| {
        invalid(format!(
            "GORT_GOGC={s:?} is not valid: expected a whole percentage (0, 50, 100, 200, ...) or \"off\""
        ))
    })
}

/// `GORT_MEMLIMIT`: the GC's soft memory limit in bytes (Go's `GOMEMLIMIT`
/// syntax: a whole number with an optional `B`, `KiB`, `MiB`, `GiB` or `TiB`
/// suffix). Unset means no limit (`u64::MAX`).
pub(crate) fn parse_memlimit(v: Option<&std::ffi::OsStr>) -> io::Result<u64> {
    let Some(raw) = v else { return Ok(u64::MAX) };
    let s = raw.to_string_lossy();
    let bad = || {
        invalid(format!(
            "GORT_MEMLIMIT={s:?} is not valid: expected a whole number of bytes with an optional \
             B, KiB, MiB, GiB or TiB suffix (512MiB, 2GiB, 1000000)"
        ))
    };
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let shift = match unit {
        "" | "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        "TiB" => 40,
        _ => return Err(bad()),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    n.checked_mul(1u64 << shift).ok_or_else(bad)
}

/// One P per CPU this process may use (affinity mask and cgroup quota).
pub(crate) fn default_procs() -> usize {
    crate::cpu::num_cpu().min(crate::runtime::MAX_PROCS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn maxprocs_accepts_a_whole_number_in_range() {
        assert_eq!(parse_maxprocs(None).unwrap(), None);
        assert_eq!(parse_maxprocs(Some(OsStr::new("4"))).unwrap(), Some(4));
        assert_eq!(parse_maxprocs(Some(OsStr::new(" 2 "))).unwrap(), Some(2));
    }

    #[test]
    fn gort_debug_parses_go_style_pairs() {
        let d = parse_debug(Some(OsStr::new(
            "schedtrace=1000,scheddetail=1, sigquit=1,checkdead=0,gctrace=1",
        )))
        .unwrap();
        assert_eq!(d.schedtrace_ms, Some(1000));
        assert_eq!(d.scheddetail, Some(true));
        assert_eq!(d.sigquit, Some(true));
        assert_eq!(d.checkdead, Some(false));
        assert_eq!(d.gctrace, Some(true));
        assert_eq!(parse_debug(None).unwrap(), Debug::default());
        assert_eq!(parse_debug(Some(OsStr::new(""))).unwrap(), Debug::default());
    }

    #[test]
    fn bad_gort_debug_is_an_error_naming_variable_value_and_accepted_keys() {
        for bad in [
            "schedtrace=abc",
            "scheddetail=2",
            "frobnicate=1",
            "schedtrace",
            "sigquit=yes",
        ] {
            let e = parse_debug(Some(OsStr::new(bad))).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            let msg = e.to_string();
            assert!(msg.contains("GORT_DEBUG"), "{msg}");
            assert!(msg.contains(&format!("{bad:?}")), "{msg}");
        }
        let e = parse_debug(Some(OsStr::new("frobnicate=1")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("schedtrace=MS"), "{e}");
    }

    #[test]
    fn bad_maxprocs_is_an_error_naming_variable_and_value() {
        for bad in ["0", "-1", "abc", "", "1025", "2.5"] {
            let e = parse_maxprocs(Some(OsStr::new(bad))).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            let msg = e.to_string();
            assert!(msg.contains("GORT_MAXPROCS"), "{msg}");
            assert!(msg.contains(&format!("{bad:?}")), "{msg}");
            assert!(msg.contains("1 to 1024"), "{msg}");
        }
    }

    #[test]
    fn gogc_accepts_a_percentage_or_off() {
        assert_eq!(parse_gogc(None).unwrap(), Some(100));
        assert_eq!(parse_gogc(Some(OsStr::new("50"))).unwrap(), Some(50));
        assert_eq!(parse_gogc(Some(OsStr::new("0"))).unwrap(), Some(0));
        assert_eq!(parse_gogc(Some(OsStr::new("off"))).unwrap(), None);
        assert_eq!(parse_gogc(Some(OsStr::new("OFF"))).unwrap(), None);
        for bad in ["abc", "-1", "", "1.5", "100%"] {
            let msg = parse_gogc(Some(OsStr::new(bad))).unwrap_err().to_string();
            assert!(msg.contains("GORT_GOGC"), "{msg}");
            assert!(msg.contains(&format!("{bad:?}")), "{msg}");
        }
    }

    #[test]
    fn memlimit_accepts_go_byte_suffixes() {
        assert_eq!(parse_memlimit(None).unwrap(), u64::MAX);
        assert_eq!(
            parse_memlimit(Some(OsStr::new("1000000"))).unwrap(),
            1_000_000
        );
        assert_eq!(parse_memlimit(Some(OsStr::new("100B"))).unwrap(), 100);
        assert_eq!(parse_memlimit(Some(OsStr::new("3KiB"))).unwrap(), 3 << 10);
        assert_eq!(
            parse_memlimit(Some(OsStr::new("512MiB"))).unwrap(),
            512 << 20
        );
        assert_eq!(parse_memlimit(Some(OsStr::new("2GiB"))).unwrap(), 2 << 30);
        assert_eq!(parse_memlimit(Some(OsStr::new("1TiB"))).unwrap(), 1 << 40);
        for bad in ["", "MiB", "12MB", "1.5GiB", "-3", "99999999999TiB", "2 GiB"] {
            let msg = parse_memlimit(Some(OsStr::new(bad)))
                .unwrap_err()
                .to_string();
            assert!(msg.contains("GORT_MEMLIMIT"), "{msg}");
            assert!(msg.contains(&format!("{bad:?}")), "{msg}");
        }
    }
}
