//! A minimal HTTP/1.1 file server on 127.0.0.1 for tests that need a URL and no nginx (the C
//! ABI's): `HEAD` and `GET` of the files in one folder, with `Range: bytes=A-B` answered 206, an
//! ETag from the file's length and modification time, one request per connection; each `GET`
//! is logged (path, first byte, bytes sent). The Python tests use nginx and moto_server, real
//! servers; this one gives the C program and the Rust tests a URL without them.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The `GET`s answered: (path, first byte, bytes sent).
pub(crate) type Log = Arc<Mutex<Vec<(String, u64, u64)>>>;

/// Serves `root` on a free port until the process ends; returns `http://127.0.0.1:PORT`.
pub(crate) fn serve(root: &Path) -> String {
    serve_logged(root).0
}

/// [`serve`], with the log of its `GET`s.
pub(crate) fn serve_logged(root: &Path) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let base = format!("http://{}", listener.local_addr().expect("its address"));
    let root = root.to_path_buf();
    let log = Log::default();
    let served = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (root, log) = (root.clone(), served.clone());
            std::thread::spawn(move || {
                let _ = answer(stream, &root, &log);
            });
        }
    });
    (base, log)
}

fn answer(mut stream: TcpStream, root: &Path, log: &Log) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("range") {
                range = v.trim().strip_prefix("bytes=").map(str::to_owned);
            }
        }
    }
    let mut parts = request.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = root.join(target.trim_start_matches('/'));
    let Ok(mut file) = std::fs::File::open(&path) else {
        return stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    };
    let meta = file.metadata()?;
    let len = meta.len();
    let mtime = meta
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let etag = format!("\"{mtime:x}-{len:x}\"");
    let (status, start, end) = match range.as_deref().and_then(|r| r.split_once('-')) {
        Some((a, b)) => {
            let start: u64 = a.parse().unwrap_or(0);
            let end = b.parse::<u64>().map_or(len, |b| (b + 1).min(len));
            ("206 Partial Content", start, end)
        }
        None => ("200 OK", 0, len),
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nETag: {etag}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n",
        end.saturating_sub(start)
    );
    if status.starts_with("206") {
        head.push_str(&format!(
            "Content-Range: bytes {start}-{}/{len}\r\n",
            end.saturating_sub(1)
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if method == "GET" {
        file.seek(SeekFrom::Start(start))?;
        let mut body = Vec::new();
        file.take(end.saturating_sub(start))
            .read_to_end(&mut body)?;
        stream.write_all(&body)?;
        let sent = (target.to_owned(), start, body.len() as u64);
        log.lock().expect("the log").push(sent);
    }
    stream.flush()
}
