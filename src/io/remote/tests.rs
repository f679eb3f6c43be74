use super::*;

#[test]
fn urls_are_told_from_paths() {
    for url in [
        "s3://b/k.bam",
        "gs://b/k",
        "az://c/b",
        "abfs://c@a.dfs.core.windows.net/b",
    ] {
        assert!(is_url(std::path::Path::new(url)), "{url}");
    }
    for url in [
        "https://h/x.bam",
        "http://127.0.0.1:8080/x",
        "s3a://b/k",
        "file:///x",
    ] {
        assert!(is_url(std::path::Path::new(url)), "{url}");
    }
    for path in ["x.bam", "/data/x.bam", "-", "a:b/c", "://x", "dir/s3://x"] {
        assert!(!is_url(std::path::Path::new(path)), "{path}");
    }
}

#[test]
fn shown_urls_carry_no_secret() {
    assert_eq!(
        redact("https://user:pw@host/x.bam?X-Amz-Signature=abc&X-Amz-Credential=k"),
        "https://host/x.bam"
    );
    assert_eq!(redact("s3://bucket/key.bam"), "s3://bucket/key.bam");
    let message = "Error performing GET https://a.blob.core.windows.net/c/x?sig=SECRET in 1s";
    assert_eq!(
        scrub(message),
        "Error performing GET https://a.blob.core.windows.net/c/x in 1s"
    );
}

#[test]
fn our_options_are_taken_out_and_checked() {
    let kv = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    let s = Settings::new(&[
        kv("fetch_bytes", "65536"),
        kv("FETCH_CONCURRENCY", "3"),
        kv("retries", "0"),
        kv("aws_region", "eu-west-1"),
    ])
    .expect("valid");
    assert_eq!((s.fetch_bytes, s.concurrency, s.retries), (65536, 3, 0));
    assert_eq!(s.options, vec![kv("aws_region", "eu-west-1")]);
    for bad in [kv("fetch_bytes", "lots"), kv("fetch_concurrency", "0")] {
        let e = Settings::new(std::slice::from_ref(&bad)).expect_err("bad value");
        assert!(e.contains(&bad.0), "{e}");
    }
    // An option the URL's store does not know is an error naming it.
    let s = Settings::new(&[kv("no_such_option", "1")]).expect("kept for the store");
    let url = url::Url::parse("s3://bucket/key").expect("url");
    let e = s.store(&url).expect_err("unknown key");
    assert!(e.contains("no_such_option"), "{e}");
}
