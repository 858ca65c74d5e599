//! `num_cpu`: CPUs this process may use, honouring the affinity mask and
//! the cgroup CPU quota (v1 and v2), the way Go users get it from
//! `automaxprocs`. Linux only for the quota; elsewhere the standard
//! library's count.
//!
//! The quota is `ceil(quota / period)`: a container limited to 1.5 CPUs
//! gets 2 Ps, as Go 1.25 and automaxprocs round (a P that is busy half the
//! time is still useful; rounding down would leave the quota unused).

/// CPUs available to this process: min(affinity, cgroup quota), at least 1.
pub fn num_cpu() -> usize {
    let base = affinity_cpus();
    match cgroup_quota_cpus() {
        Some(q) => base.min(q).max(1),
        None => base.max(1),
    }
}

fn affinity_cpus() -> usize {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        // SAFETY: cpu_set_t is plain data; sched_getaffinity writes at most
        // size_of::<cpu_set_t>() bytes into it.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: pid 0 is this thread; the size matches the buffer.
        let r =
            unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
        if r == 0 {
            // SAFETY: `set` was filled by the kernel.
            let n = unsafe { libc::CPU_COUNT(&set) };
            if n > 0 {
                return n as usize;
            }
        }
    }
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(all(target_os = "linux", not(miri)))]
fn cgroup_quota_cpus() -> Option<usize> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let read = |p: &str| std::fs::read_to_string(p).ok();
    quota_from(&cgroup, &mountinfo, &read)
}

#[cfg(any(not(target_os = "linux"), miri))]
fn cgroup_quota_cpus() -> Option<usize> {
    None
}

/// The CPU quota from the contents of /proc/self/cgroup and
/// /proc/self/mountinfo, reading cgroup files through `read`.
pub(crate) fn quota_from(
    cgroup: &str,
    mountinfo: &str,
    read: &dyn Fn(&str) -> Option<String>,
) -> Option<usize> {
    for line in cgroup.lines() {
        // "hierarchy-ID:controller-list:cgroup-path"
        let mut parts = line.splitn(3, ':');
        let (id, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        if id == "0" && ctrls.is_empty() {
            // cgroup v2
            let mount = mount_point(mountinfo, "cgroup2", None)?;
            let file = format!("{}/{}/cpu.max", mount, path.trim_start_matches('/'));
            if let Some(q) = read(&file).and_then(|s| parse_cpu_max(&s)) {
                return Some(q);
            }
            // The process may sit at the root of its namespace's view.
            if let Some(q) = read(&format!("{mount}/cpu.max")).and_then(|s| parse_cpu_max(&s)) {
                return Some(q);
            }
        } else if ctrls.split(',').any(|c| c == "cpu") {
            // cgroup v1
            let mount = mount_point(mountinfo, "cgroup", Some("cpu"))?;
            for dir in [
                format!("{}/{}", mount, path.trim_start_matches('/')),
                mount.clone(),
            ] {
                let quota = read(&format!("{dir}/cpu.cfs_quota_us"));
                let period = read(&format!("{dir}/cpu.cfs_period_us"));
                if let (Some(q), Some(p)) = (quota, period) {
                    if let Some(n) = parse_v1(&q, &p) {
                        return Some(n);
                    }
                }
            }
        }
    }
    None
}

/// Where a cgroup filesystem is mounted, from /proc/self/mountinfo:
/// `... mount-point ... - fstype source super-options`.
fn mount_point(mountinfo: &str, fstype: &str, option: Option<&str>) -> Option<String> {
    for line in mountinfo.lines() {
        let (left, right) = line.split_once(" - ")?;
        let mut r = right.split_whitespace();
        if r.next()? != fstype {
            continue;
        }
        let super_opts = r.nth(1).unwrap_or("");
        if let Some(o) = option {
            if !super_opts.split(',').any(|x| x == o) {
                continue;
            }
        }
        return left.split_whitespace().nth(4).map(str::to_string);
    }
    None
}

/// cgroup v2 `cpu.max`: "max 100000" (no limit) or "150000 100000".
pub(crate) fn parse_cpu_max(s: &str) -> Option<usize> {
    let mut it = s.split_whitespace();
    let quota = it.next()?;
    let period: u64 = it.next().map_or(Some(100_000), |p| p.parse().ok())?;
    if quota == "max" {
        return None;
    }
    ceil_div(quota.parse().ok()?, period)
}

/// cgroup v1: `cpu.cfs_quota_us` (-1 = no limit) and `cpu.cfs_period_us`.
pub(crate) fn parse_v1(quota: &str, period: &str) -> Option<usize> {
    let q: i64 = quota.trim().parse().ok()?;
    let p: u64 = period.trim().parse().ok()?;
    if q <= 0 {
        return None;
    }
    ceil_div(q as u64, p)
}

fn ceil_div(q: u64, p: u64) -> Option<usize> {
    if p == 0 {
        return None;
    }
    Some(q.div_ceil(p).max(1) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const MOUNTINFO_V2: &str = "\
25 30 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
30 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw";

    const MOUNTINFO_V1: &str = "\
30 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
35 25 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
36 25 0:31 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory";

    fn files(m: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = m
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |p: &str| m.get(p).cloned()
    }

    #[test]
    fn cgroup_v2_quota_rounds_up() {
        let read = files(&[("/sys/fs/cgroup/kubepods/pod1/cpu.max", "150000 100000\n")]);
        assert_eq!(
            quota_from("0::/kubepods/pod1\n", MOUNTINFO_V2, &read),
            Some(2)
        );
        let read = files(&[("/sys/fs/cgroup/kubepods/pod1/cpu.max", "max 100000\n")]);
        assert_eq!(quota_from("0::/kubepods/pod1\n", MOUNTINFO_V2, &read), None);
        let read = files(&[("/sys/fs/cgroup/cpu.max", "50000 100000\n")]);
        assert_eq!(quota_from("0::/\n", MOUNTINFO_V2, &read), Some(1));
    }

    #[test]
    fn cgroup_v1_quota_and_unlimited() {
        let cg = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n";
        let read = files(&[
            (
                "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us",
                "300000\n",
            ),
            (
                "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us",
                "100000\n",
            ),
        ]);
        assert_eq!(quota_from(cg, MOUNTINFO_V1, &read), Some(3));
        let read = files(&[
            (
                "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us",
                "-1\n",
            ),
            (
                "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us",
                "100000\n",
            ),
        ]);
        assert_eq!(quota_from(cg, MOUNTINFO_V1, &read), None);
    }

    #[test]
    fn malformed_files_mean_no_quota() {
        assert_eq!(parse_cpu_max(""), None);
        assert_eq!(parse_cpu_max("abc 100000"), None);
        assert_eq!(parse_cpu_max("100000 0"), None);
        assert_eq!(parse_v1("x", "100000"), None);
        assert_eq!(quota_from("garbage", "", &files(&[])), None);
    }

    #[test]
    fn num_cpu_is_at_least_one_and_at_most_the_machine() {
        let n = num_cpu();
        assert!(n >= 1);
        assert!(
            n <= std::thread::available_parallelism()
                .map_or(usize::MAX, |n| n.get())
                .max(n)
        );
    }
}
