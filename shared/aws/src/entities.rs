//! Which domain types are table items, and under what kind. One line per entity.

use crate::table::Entity;
use tern_domain::inbound::InboundMessage;

impl Entity for InboundMessage {
    const KIND: &'static str = "INBOUND";
    fn id(&self) -> &str {
        &self.id
    }
}
