//! A local SMTP sink the tests start themselves: it accepts every message and
//! keeps it (headers and body, dot-unstuffed) for the test to read.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

pub struct Sink {
    pub url: String,
    pub messages: Arc<Mutex<Vec<String>>>,
}

impl Sink {
    pub fn received(&self) -> Vec<String> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

async fn session(stream: tokio::net::TcpStream, messages: Arc<Mutex<Vec<String>>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 puits SMTP de test\r\n").await?;
    while let Some(line) = lines.next_line().await? {
        let verb = line.split_whitespace().next().unwrap_or("").to_uppercase();
        match verb.as_str() {
            "EHLO" | "HELO" => write.write_all(b"250 puits\r\n").await?,
            "DATA" => {
                write.write_all(b"354 envoyez\r\n").await?;
                let mut body = String::new();
                while let Some(l) = lines.next_line().await? {
                    if l == "." {
                        break;
                    }
                    body.push_str(l.strip_prefix('.').unwrap_or(&l));
                    body.push('\n');
                }
                if let Ok(mut m) = messages.lock() {
                    m.push(body);
                }
                write.write_all(b"250 recu\r\n").await?;
            }
            "QUIT" => {
                write.write_all(b"221 au revoir\r\n").await?;
                return Ok(());
            }
            _ => write.write_all(b"250 OK\r\n").await?,
        }
    }
    Ok(())
}

/// Starts a sink on a free loopback port.
pub async fn start() -> Sink {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
    let addr = listener.local_addr().expect("adresse");
    let messages = Arc::new(Mutex::new(Vec::new()));
    let kept = messages.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(session(stream, kept.clone()));
        }
    });
    Sink {
        url: format!("smtp://{addr}"),
        messages,
    }
}
