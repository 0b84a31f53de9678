//! Size limits as a client sees them over a real socket (in-process router tests never reach
//! hyper's connection codec): oversized or too many request headers get `431`, an oversized
//! body gets `413` also when it is sent chunked (no `Content-Length` to refuse it by).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use crate::gatehouse;

/// Sends `request` on a fresh connection and returns the status line's code and the whole
/// answer as text (the connection is closed by us after the first answer).
fn exchange(port: u16, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The server may answer and close before all of an oversized request was written.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if let Some(head_end) = find(&answer, b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&answer[..head_end]).to_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok());
                    if length.is_some_and(|len| answer.len() >= head_end + 4 + len) {
                        break;
                    }
                }
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (code, text)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn oversized_headers_get_431_and_oversized_chunked_bodies_413() {
    let server = gatehouse().server("all").start();
    let port = server.public;

    // The control: a plain request is answered.
    let (code, _) = exchange(
        port,
        b"GET /health/alive HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(code, 200);

    // One header far over hyper's buffer (~400 KiB), on both the OAuth and the login routes.
    for path in ["/oauth2/auth?client_id=neoncli", "/.well-known/jwks.json"] {
        let mut request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: a=").into_bytes();
        request.resize(request.len() + 512 * 1024, b'x');
        request.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
        let (code, answer) = exchange(port, &request);
        assert_eq!(code, 431, "{path}: {answer}");
    }

    // More headers than hyper parses (100).
    let mut request = String::from("GET /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for i in 0..150 {
        request.push_str(&format!("X-Filler-{i}: {i}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    let (code, answer) = exchange(port, request.as_bytes());
    assert_eq!(code, 431, "{answer}");

    // A chunked body over the token endpoint's 64 KiB limit: refused while it streams.
    let mut request = b"POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\n\
Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\
Connection: close\r\n\r\n"
        .to_vec();
    let chunk = vec![b'a'; 16 * 1024];
    request.extend_from_slice(b"1d\r\ngrant_type=client_credentials\r\n");
    for _ in 0..8 {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(&chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let (code, answer) = exchange(port, &request);
    assert_eq!(code, 413, "{answer}");
    assert!(answer.contains("invalid_request"), "{answer}");

    // The same with a declared Content-Length over the limit.
    let mut body = b"grant_type=client_credentials&pad=".to_vec();
    body.resize(128 * 1024, b'a');
    let mut request = format!(
        "POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\n\
Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let (code, answer) = exchange(port, &request);
    assert_eq!(code, 413, "{answer}");

    // After all that the server still answers.
    let (code, _) = exchange(
        port,
        b"GET /health/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(code, 200);
    server.terminate();
}
