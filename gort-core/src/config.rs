//! Go's environment variables under gort's names (`GORT_MAXPROCS`, ...).
//!
//! A bad value is an error at `Builder::build` that names the variable, the
//! value and what is accepted, never a silent default.

use std::io;

use crate::runtime::{check_procs, invalid};

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
}
