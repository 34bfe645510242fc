//! Capture servers inside the sandbox's network namespace.
//!
//! With the AnyIP route every address is local, so a listener on `[::]:P` receives whatever the
//! payload sends to any host on port P, and `local_addr()` of the accepted socket is the
//! destination the payload chose. The fake DNS answers each name with its own address from
//! 198.18.0.0/15, so a later connection maps back to the name. HTTP, TLS and raw TCP are told
//! apart by their first bytes, whatever the port. Nothing here can reach outside the namespace.

use crate::evidence::{Destination, EventKind, Source};
use crate::recorder::{Recorder, sample};
use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const SAMPLE: usize = 2048;

/// What every HTTP request gets back: a line that is a comment in sh, Python, Perl and Ruby, so
/// a downloaded "installer" runs harmlessly — and shows up in the exec log when it is run.
pub const FETCHED_MARKER: &str = "skillgate-fetched-payload";
const FETCHED_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 28\r\nConnection: close\r\n\r\n# skillgate-fetched-payload\n";

#[derive(Clone)]
pub struct Capture {
    inner: Arc<Inner>,
}

struct Inner {
    recorder: Arc<Recorder>,
    names: Mutex<HashMap<Ipv4Addr, String>>,
    by_name: Mutex<HashMap<String, Ipv4Addr>>,
    tcp: Mutex<HashSet<u16>>,
    udp: Mutex<HashSet<u16>>,
    active: AtomicUsize,
    capture_bytes: usize,
    /// At run time: connections to declared names go out through this; the rest are closed.
    forward: Option<Arc<super::forward::Forwarder>>,
    /// At run time only declared names resolve.
    runtime: bool,
}

impl Capture {
    fn new(
        recorder: Arc<Recorder>,
        capture_bytes: usize,
        forward: Option<Arc<super::forward::Forwarder>>,
        runtime: bool,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                recorder,
                names: Mutex::default(),
                by_name: Mutex::default(),
                tcp: Mutex::default(),
                udp: Mutex::default(),
                active: AtomicUsize::new(0),
                capture_bytes,
                forward,
                runtime,
            }),
        }
    }

    /// Starts the DNS server and the TCP capture servers on `ports`.
    pub fn start(recorder: Arc<Recorder>, ports: &[u16], capture_bytes: usize) -> io::Result<Self> {
        let capture = Self::new(recorder, capture_bytes, None, false);
        capture.ensure_udp(53)?;
        for &port in ports {
            capture.ensure_tcp(port)?;
        }
        Ok(capture)
    }

    /// No servers at all: at run time on the host's network, connections are only logged.
    pub fn idle(recorder: Arc<Recorder>, capture_bytes: usize) -> Self {
        Self::new(recorder, capture_bytes, None, true)
    }

    /// The fake DNS, and TCP listeners (started on demand) that carry connections to declared
    /// names out through `forward` and close every other one.
    pub fn start_forwarding(
        recorder: Arc<Recorder>,
        capture_bytes: usize,
        forward: Option<Arc<super::forward::Forwarder>>,
    ) -> io::Result<Self> {
        let capture = Self::new(recorder, capture_bytes, forward, true);
        capture.ensure_udp(53)?;
        Ok(capture)
    }

    /// Whether a connection to `addr` is to a declared name that is carried out.
    pub fn forwards(&self, addr: SocketAddr) -> bool {
        match (&self.inner.forward, self.hostname(addr.ip())) {
            (Some(f), Some(name)) => super::forward::allowed(&name, &f.allowed),
            _ => false,
        }
    }

    /// The name the fake DNS handed `ip` out for.
    pub fn hostname(&self, ip: IpAddr) -> Option<String> {
        let v4 = match ip {
            IpAddr::V4(v4) => v4,
            IpAddr::V6(v6) => v6.to_ipv4_mapped()?,
        };
        self.inner.names.lock().ok()?.get(&v4).cloned()
    }

    pub fn destination(&self, addr: SocketAddr, proto: &str) -> Destination {
        Destination {
            ip: match addr.ip() {
                IpAddr::V6(v6) => v6
                    .to_ipv4_mapped()
                    .map_or(v6.to_string(), |v4| v4.to_string()),
                ip => ip.to_string(),
            },
            port: addr.port(),
            proto: proto.to_string(),
            hostname: self.hostname(addr.ip()),
        }
    }

    /// Makes sure a TCP capture server listens on `port`. Called by the supervisor before it
    /// lets a `connect` continue, so no connection is ever refused.
    pub fn ensure_tcp(&self, port: u16) -> io::Result<()> {
        if port == 0 || !self.inner.tcp.lock().expect("tcp set").insert(port) {
            return Ok(());
        }
        let listener = bind_dual(port, TcpListener::bind)?;
        let capture = self.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let capture = capture.clone();
                capture.inner.active.fetch_add(1, Ordering::SeqCst);
                thread::spawn(move || {
                    capture.serve_tcp(stream);
                    capture.inner.active.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Ok(())
    }

    /// Makes sure a UDP server receives on `port` (53 is the fake DNS).
    pub fn ensure_udp(&self, port: u16) -> io::Result<()> {
        if port == 0 || !self.inner.udp.lock().expect("udp set").insert(port) {
            return Ok(());
        }
        let socket = bind_dual(port, UdpSocket::bind)?;
        let capture = self.clone();
        thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                if port == 53 {
                    capture.answer_dns(&socket, &buf[..n], from);
                } else {
                    let dst = socket
                        .local_addr()
                        .map(|a| capture.destination(a, "udp"))
                        .unwrap_or_else(|_| Destination {
                            ip: "?".into(),
                            port,
                            proto: "udp".into(),
                            hostname: None,
                        });
                    capture.inner.recorder.record(
                        Source::Sink,
                        None,
                        EventKind::RawPayload {
                            dst,
                            bytes: n,
                            sample: sample(&buf[..n], SAMPLE),
                        },
                        &[(&buf[..n], "payload")],
                    );
                }
            }
        });
        Ok(())
    }

    /// Waits until no connection is being served, at most `timeout`.
    pub fn wait_idle(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.inner.active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn serve_tcp(&self, mut stream: TcpStream) {
        if let Some(forward) = &self.inner.forward {
            // Run time: carry a declared name out, close anything else unread.
            let Ok(local) = stream.local_addr() else {
                return;
            };
            if let Some(name) = self.hostname(local.ip())
                && let Ok(outside) = forward.connect(&name, local.port())
            {
                super::forward::splice(stream, outside);
            }
            return;
        }
        let dst = match stream.local_addr() {
            Ok(a) => self.destination(a, "tcp"),
            Err(_) => return,
        };
        let cap = self.inner.capture_bytes;
        let deadline = Instant::now() + Duration::from_secs(3);
        let _ = stream.set_read_timeout(Some(Duration::from_millis(400)));
        let mut data = Vec::new();
        let mut buf = [0u8; 8192];
        // Read until the request is complete, the client goes quiet, or the cap.
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => data.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
            if data.len() >= cap || Instant::now() >= deadline {
                break;
            }
            if data.first() == Some(&0x16) && data.len() >= 5 {
                break; // a TLS ClientHello arrives in one record
            }
            if http_complete(&data) {
                break;
            }
        }
        data.truncate(cap);
        if data.first() == Some(&0x16) {
            let sni = client_hello_sni(&data);
            self.inner.recorder.record(
                Source::Sink,
                None,
                EventKind::TlsClientHello {
                    dst,
                    sni: sni.clone(),
                },
                &[(sni.as_deref().unwrap_or("").as_bytes(), "tls-sni")],
            );
            return;
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(head_len)) = request.parse(&data) {
            let host = request
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("host"))
                .map(|h| String::from_utf8_lossy(h.value).into_owned());
            let method = request.method.unwrap_or("?").to_string();
            let target = request.path.unwrap_or("").to_string();
            let body = &data[head_len..];
            self.inner.recorder.record(
                Source::Sink,
                None,
                EventKind::HttpRequest {
                    dst,
                    method,
                    host,
                    target,
                    body: sample(body, SAMPLE),
                    bytes: data.len(),
                },
                &[(&data[..head_len], "http-request"), (body, "http-body")],
            );
            let _ = stream.write_all(FETCHED_RESPONSE);
            return;
        }
        self.inner.recorder.record(
            Source::Sink,
            None,
            EventKind::RawPayload {
                dst,
                bytes: data.len(),
                sample: sample(&data, SAMPLE),
            },
            &[(&data, "payload")],
        );
    }

    fn answer_dns(&self, socket: &UdpSocket, query: &[u8], from: SocketAddr) {
        use simple_dns::rdata::{A, RData};
        use simple_dns::{CLASS, Packet, QTYPE, ResourceRecord, TYPE};
        let Ok(packet) = Packet::parse(query) else {
            self.inner.recorder.record(
                Source::Dns,
                None,
                EventKind::RawPayload {
                    dst: Destination {
                        ip: "dns".into(),
                        port: 53,
                        proto: "udp".into(),
                        hostname: None,
                    },
                    bytes: query.len(),
                    sample: sample(query, SAMPLE),
                },
                &[(query, "payload")],
            );
            return;
        };
        let mut reply = Packet::new_reply(packet.id());
        for question in &packet.questions {
            let name = question.qname.to_string();
            let qtype = format!("{:?}", question.qtype);
            let mut answer = None;
            reply.questions.push(question.clone());
            // At run time only declared names resolve; every other lookup is refused (and
            // recorded with no answer).
            let refused = self.inner.runtime
                && !self
                    .inner
                    .forward
                    .as_ref()
                    .is_some_and(|f| super::forward::allowed(&name, &f.allowed));
            if refused {
                *reply.rcode_mut() = simple_dns::RCODE::NameError;
            } else if question.qtype == QTYPE::TYPE(TYPE::A) {
                let ip = self.fake_ip(&name);
                answer = Some(ip.to_string());
                reply.answers.push(ResourceRecord::new(
                    question.qname.clone(),
                    CLASS::IN,
                    60,
                    RData::A(A {
                        address: u32::from(ip),
                    }),
                ));
            }
            self.inner.recorder.record(
                Source::Dns,
                None,
                EventKind::DnsQuery {
                    name: name.clone(),
                    qtype,
                    answer,
                },
                &[(name.as_bytes(), "dns-name")],
            );
        }
        if let Ok(bytes) = reply.build_bytes_vec() {
            let _ = socket.send_to(&bytes, from);
        }
    }

    fn fake_ip(&self, name: &str) -> Ipv4Addr {
        let key = name.to_ascii_lowercase();
        let mut by_name = self.inner.by_name.lock().expect("dns table");
        if let Some(ip) = by_name.get(&key) {
            return *ip;
        }
        let n = by_name.len() as u32 + 1;
        let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + (n % 131_070));
        by_name.insert(key.clone(), ip);
        self.inner.names.lock().expect("dns table").insert(ip, key);
        ip
    }
}

/// Binds `[::]:port` (both families), or `0.0.0.0:port` where IPv6 is off.
fn bind_dual<T>(port: u16, bind: impl Fn(SocketAddr) -> io::Result<T>) -> io::Result<T> {
    bind(SocketAddr::from(([0u16; 8], port))).or_else(|_| bind(SocketAddr::from(([0u8; 4], port))))
}

fn http_complete(data: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(data) {
        Ok(httparse::Status::Complete(head_len)) => {
            let length = request
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| {
                    std::str::from_utf8(h.value)
                        .ok()?
                        .trim()
                        .parse::<usize>()
                        .ok()
                });
            match length {
                Some(n) => data.len() >= head_len + n,
                // Chunked or unknown: keep reading until the client goes quiet.
                None => !request
                    .headers
                    .iter()
                    .any(|h| h.name.eq_ignore_ascii_case("transfer-encoding")),
            }
        }
        Ok(httparse::Status::Partial) => false,
        Err(_) => false,
    }
}

/// The server name a TLS ClientHello asks for.
pub fn client_hello_sni(data: &[u8]) -> Option<String> {
    use tls_parser::{TlsExtension, TlsMessage, TlsMessageHandshake, parse_tls_extensions};
    let (_, record) = tls_parser::parse_tls_plaintext(data).ok()?;
    for message in record.msg {
        if let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(hello)) = message {
            let (_, extensions) = parse_tls_extensions(hello.ext?).ok()?;
            for extension in extensions {
                if let TlsExtension::SNI(names) = extension {
                    return names
                        .first()
                        .map(|(_, name)| String::from_utf8_lossy(name).into_owned());
                }
            }
        }
    }
    None
}
