#![no_main]
//! Inbound-mail webhooks are posted from outside: any body, under any
//! Content-Type, must decode to `Ok` or a clear `Err`, never a panic, and what
//! decodes must parse and classify the same way.

use libfuzzer_sys::fuzz_target;
use tern_mail::webhook;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let received = match selector % 4 {
        0 => webhook::cloudmailin_json(body),
        1 => webhook::form_fields(body, "multipart/form-data; boundary=b").and_then(|f| webhook::cloudmailin_multipart(&f)),
        2 => webhook::form_fields(body, "multipart/form-data; boundary=b").and_then(|f| webhook::cloudmailin_raw(&f)),
        _ => {
            let _ = webhook::is_ses_receipt(body);
            webhook::ses_receipt(body).map(|_| webhook::Received { message: Vec::new(), transport: Default::default() })
        }
    };
    if let Ok(received) = received
        && !received.message.is_empty()
    {
        // The From address is the sender's to decide on (`sender_proof`): any address, any transport.
        if let Ok((mail, _)) = tern_mail::parse_and_classify(&received.message)
            && let Some(from) = mail.from.and_then(|m| m.address)
        {
            let _ = received.transport.sender_proof(&from);
        }
    }
});
