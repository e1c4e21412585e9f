//! What the local-backend tests share.

use infra::local::{ReceiveRequest, ReceivedMessage, Store};

/// Receives and deletes everything `q` holds now; returns it in receive order.
pub fn drain(s: &mut Store, q: &str) -> Vec<ReceivedMessage> {
    let mut all = Vec::new();
    loop {
        let got = s
            .receive_messages(q, ReceiveRequest::default())
            .expect("receive");
        if got.is_empty() {
            return all;
        }
        for m in &got {
            s.delete_message(q, &m.receipt_handle).expect("delete");
        }
        all.extend(got);
    }
}
