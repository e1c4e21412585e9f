//! Bucket scans hash files in chunks: a file larger than the memory the process may use is
//! scanned, and its etag is its MD5. The test caps the whole process's address space (so that
//! reading the file into memory would fail), so it runs in a child process of this test
//! binary: the other tests go on meanwhile, uncapped.

use infra::local::buckets::ChangeKind;
use infra::local::{BucketSpec, Clock, Config, Store};
use md5::{Digest, Md5};
use std::io::Read;

const SIZE: u64 = 3 << 30; // 3 GiB, sparse

/// The process's current virtual size in bytes (Linux: /proc/self/statm, in pages).
fn virtual_size() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().next()?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// Caps the address space at what is mapped now plus `headroom`.
fn cap_address_space(headroom: u64) {
    let Some(now) = virtual_size() else {
        eprintln!("no /proc/self/statm: the address space is not capped");
        return;
    };
    let limit = libc::rlimit {
        rlim_cur: now + headroom,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: a valid rlimit for RLIMIT_AS.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) };
    assert_eq!(rc, 0, "setrlimit(RLIMIT_AS)");
}

/// The file's MD5 from `md5sum` (a streaming C implementation: fast even when this test is
/// built without optimization), else computed here in chunks.
fn md5_reference(path: &std::path::Path) -> String {
    if let Ok(out) = std::process::Command::new("md5sum").arg(path).output() {
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(hex) = text.split_whitespace().next().filter(|h| h.len() == 32) {
            if out.status.success() {
                return hex.to_string();
            }
        }
    }
    let mut file = std::fs::File::open(path).expect("open");
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 4 << 20];
    loop {
        let n = file.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    format!("{:x}", hasher.finalize())
}

/// Set in the child process that runs the capped test.
const CHILD: &str = "BRIDGE_TEST_CAPPED_CHILD";

/// Runs this test binary again with only the test `name` (of this module) and [`CHILD`] set;
/// asserts that the child ran it and that it passed.
fn run_in_child(name: &str) {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let test = format!("{module}::{name}");
    let exe = std::env::current_exe().expect("the test binary");
    let out = std::process::Command::new(exe)
        .args(["--exact", &test, "--test-threads", "1", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .expect("run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{test} in a child process: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
}

#[test]
fn a_file_larger_than_memory_allows_is_hashed_in_chunks() {
    if std::env::var_os(CHILD).is_none() {
        return run_in_child("a_file_larger_than_memory_allows_is_hashed_in_chunks");
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open_with(
        tmp.path().join("state"),
        Config::default(),
        Clock::manual(1_795_392_000_000),
    )
    .expect("open");
    let dir = tmp.path().join("big");
    store
        .put_bucket(&BucketSpec {
            name: "big".into(),
            dir: dir.clone(),
            eventbridge: true,
            notifications: Vec::new(),
        })
        .expect("bucket");
    let path = dir.join("huge.bin");
    let file = std::fs::File::create(&path).expect("create");
    file.set_len(SIZE).expect("sparse file");
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = file;
        file.seek(SeekFrom::Start(SIZE / 2)).expect("seek");
        file.write_all(b"not all zeros").expect("write");
    }
    let expected = md5_reference(&path);

    // 1 GiB more than now: reading the 3 GiB file into memory cannot succeed.
    cap_address_space(1 << 30);
    let changes = store.scan_buckets().expect("scan");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].key, "huge.bin");
    assert_eq!(changes[0].kind, ChangeKind::Created);
    assert_eq!(changes[0].size, Some(SIZE));
    assert_eq!(changes[0].etag.as_deref(), Some(expected.as_str()));
}
