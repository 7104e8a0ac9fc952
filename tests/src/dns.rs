//! A DNS server for tests, on 127.0.0.1 (UDP), answering from a zone the test
//! fills: what the product's real resolvers (hickory, through `tern_web::Verifier`)
//! query for domain proofs (TXT) and address verification (MX, A). A name with no
//! record at all is NXDOMAIN; a name with records of other types answers NOERROR
//! with no answer, as a real server does.

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, MX, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

/// Records by lower-case name without the trailing dot; shared with the running
/// server, so a record published later is served from then on.
#[derive(Clone, Default)]
pub struct Zone(Arc<Mutex<HashMap<String, Vec<RData>>>>);

impl Zone {
    pub fn publish_txt(&self, name: &str, value: &str) {
        self.publish(name, RData::TXT(TXT::new(vec![value.to_string()])));
    }

    pub fn publish_mx(&self, name: &str, preference: u16, exchange: &str) {
        let exchange = Name::from_str(&format!("{}.", exchange.trim_end_matches('.'))).expect("an exchange name");
        self.publish(name, RData::MX(MX::new(preference, exchange)));
    }

    pub fn publish_a(&self, name: &str, address: Ipv4Addr) {
        self.publish(name, RData::A(A(address)));
    }

    fn publish(&self, name: &str, record: RData) {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.0.lock().unwrap().entry(name).or_default().push(record);
    }

    fn answer(&self, name: &str, kind: RecordType) -> Option<Vec<RData>> {
        let records = self.0.lock().unwrap();
        let found = records.get(name.trim_end_matches('.'))?;
        Some(found.iter().filter(|record| record.record_type() == kind).cloned().collect())
    }

    /// Starts the server for this zone; it runs until the test's runtime ends.
    pub async fn serve(&self) -> SocketAddr {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let zone = self.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((len, peer)) = socket.recv_from(&mut buf).await else { continue };
                let Ok(request) = Message::from_vec(&buf[..len]) else { continue };
                let Some(query) = request.queries.first().cloned() else { continue };
                let mut response = Message::response(request.metadata.id, OpCode::Query);
                response.metadata.recursion_desired = request.metadata.recursion_desired;
                response.metadata.recursion_available = true;
                response.add_query(query.clone());
                let name = query.name().to_ascii().to_ascii_lowercase();
                match zone.answer(&name, query.query_type()) {
                    None => response.metadata.response_code = ResponseCode::NXDomain,
                    Some(records) => {
                        for record in records {
                            response.add_answer(Record::from_rdata(query.name().clone(), 60, record));
                        }
                    }
                }
                if let Ok(bytes) = response.to_vec() {
                    let _ = socket.send_to(&bytes, peer).await;
                }
            }
        });
        addr
    }
}
