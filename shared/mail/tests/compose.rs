//! Composed messages parsed back with mail-parser: what we write is what a
//! receiving client reads.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders};
use proptest::prelude::*;
use tern_mail::compose::{Address, Attachment, ComposeError, Footer, ListUnsubscribe, Outgoing, check_one_click, compose, reply_subject};

fn base() -> Outgoing {
    Outgoing {
        from: Address::new(Some("Ann Sender"), "ann@sender.example"),
        to: Address::new(Some("Lee Lead"), "lee@lead.example"),
        reply_to: None,
        subject: "Quick question".into(),
        text: "Hi Lee,\nare you the right person?\n".into(),
        html: None,
        message_id: "0190f1c2-aaaa-7bbb-8ccc-000000000001.0@sender.example".into(),
        in_reply_to: None,
        references: vec![],
        date_unix: 1_750_000_000,
        list_unsubscribe: Some(ListUnsubscribe {
            https_url: "https://t.tern.dev/u/abc123?s=1".into(),
            mailto: Some("mailto:unsubscribe+abc123@sender.example".into()),
        }),
        footer: None,
        attachments: vec![],
        extra_headers: vec![],
    }
}

fn parse(raw: &[u8]) -> Message<'_> {
    MessageParser::default().parse(raw).expect("mail-parser parses composed output")
}

fn crlf(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n").replace('\n', "\r\n")
}

fn max_line(raw: &[u8]) -> usize {
    raw.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l).len()).max().unwrap_or(0)
}

fn header_lines(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    head.split("\r\n").map(str::to_owned).collect()
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => vec![],
    }
}

#[test]
fn plain_message_round_trips() {
    let mut m = base();
    m.reply_to = Some(Address::new(None, "replies@sender.example"));
    m.in_reply_to = Some("first.0@sender.example".into());
    m.references = vec!["first.0@sender.example".into(), "reply-1@lead.example".into()];
    m.extra_headers = vec![("X-Tern-Workspace".into(), "ws_01HZX".into()), ("Feedback-ID".into(), "step0:seq9:ws_01HZX:tern".into())];
    let raw = compose(&m).unwrap();
    let mail = parse(&raw);

    assert_eq!(mail.subject(), Some("Quick question"));
    let from = mail.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Ann Sender"));
    assert_eq!(from.address(), Some("ann@sender.example"));
    let to = mail.to().unwrap().first().unwrap();
    assert_eq!(to.name(), Some("Lee Lead"));
    assert_eq!(to.address(), Some("lee@lead.example"));
    assert_eq!(mail.reply_to().unwrap().first().unwrap().address(), Some("replies@sender.example"));
    assert_eq!(mail.message_id(), Some(m.message_id.as_str()));
    assert_eq!(ids(mail.in_reply_to()), vec!["first.0@sender.example"]);
    assert_eq!(ids(mail.references()), m.references);
    assert_eq!(mail.date().unwrap().to_timestamp(), 1_750_000_000);
    assert_eq!(mail.body_text(0).unwrap(), crlf(&m.text));
    assert!(!String::from_utf8_lossy(&raw).contains("text/html"));
    assert_eq!(mail.attachment_count(), 0);
    assert_eq!(mail.header_raw("X-Tern-Workspace").map(str::trim), Some("ws_01HZX"));
    assert_eq!(mail.header_raw("Feedback-ID").map(str::trim), Some("step0:seq9:ws_01HZX:tern"));
    let lines = header_lines(&raw);
    assert!(lines.contains(&"MIME-Version: 1.0".to_owned()), "{lines:?}");
    assert!(lines.contains(&"Date: Sun, 15 Jun 2025 15:06:40 +0000".to_owned()));
    assert!(lines.contains(&"List-Unsubscribe-Post: List-Unsubscribe=One-Click".to_owned()));
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.contains("List-Unsubscribe: <https://t.tern.dev/u/abc123?s=1>,\r\n <mailto:unsubscribe+abc123@sender.example>\r\n")
            || text.contains("List-Unsubscribe: <https://t.tern.dev/u/abc123?s=1>, <mailto:unsubscribe+abc123@sender.example>\r\n"),
        "{text}"
    );
    assert!(check_one_click(&raw).is_ok());
    assert!(max_line(&raw) <= 78, "{text}");
}

#[test]
fn composing_is_deterministic() {
    let m = base();
    assert_eq!(compose(&m).unwrap(), compose(&m).unwrap());
}

#[test]
fn non_ascii_headers_and_bodies_round_trip() {
    let mut m = base();
    m.from = Address::new(Some("Zoë Ångström, Vertrieb"), "zoe@sender.example");
    m.to = Address::new(Some("Jörg Müller \"der Käufer\""), "jorg@lead.example");
    m.subject = "Grüße aus Köln — 日本語のテスト, and a rather long tail to force folding of the encoded words 🚀".into();
    m.text = "Hallo Jörg,\n\nwie geht's? Äpfel € 🚀\n.leading dot\nFrom the top\ntrailing space \n".into();
    m.html = Some("<html><body><p>Hallo Jörg, <b>Grüße</b> 🚀</p></body></html>".into());
    let raw = compose(&m).unwrap();
    let mail = parse(&raw);

    assert!(raw.is_ascii(), "the composed message is 7-bit clean");
    assert_eq!(mail.subject(), Some(m.subject.as_str()));
    let from = mail.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Zoë Ångström, Vertrieb"));
    assert_eq!(from.address(), Some("zoe@sender.example"));
    let to = mail.to().unwrap().first().unwrap();
    assert_eq!(to.name(), Some("Jörg Müller \"der Käufer\""));
    assert_eq!(mail.body_text(0).unwrap(), crlf(&m.text));
    assert_eq!(mail.body_html(0).unwrap(), crlf(m.html.as_deref().unwrap()));
    assert!(max_line(&raw) <= 78, "{}", String::from_utf8_lossy(&raw));
}

#[test]
fn ascii_names_with_specials_are_quoted() {
    let mut m = base();
    m.to = Address::new(Some("Smith, John Q. \\ \"Jack\""), "john@lead.example");
    let raw = compose(&m).unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("To: \"Smith, John Q. \\\\ \\\"Jack\\\"\" <john@lead.example>"), "{text}");
    let mail = parse(&raw);
    assert_eq!(mail.to().unwrap().first().unwrap().name(), Some("Smith, John Q. \\ \"Jack\""));
}

#[test]
fn html_makes_multipart_alternative_and_footer_lands_in_both() {
    let mut m = base();
    m.html = Some("<html><body><p>Hi Lee</p></body></html>".into());
    m.footer = Some(Footer { text: "Tern GmbH, Hauptstr. 1 <Berlin> & co\nUnsubscribe: https://t.tern.dev/u/abc".into() });
    let raw = compose(&m).unwrap();
    let mail = parse(&raw);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("Content-Type: multipart/alternative;"), "{text}");

    let body = mail.body_text(0).unwrap();
    assert!(
        body.ends_with("right person?\r\n\r\nTern GmbH, Hauptstr. 1 <Berlin> & co\r\nUnsubscribe: https://t.tern.dev/u/abc"),
        "{body:?}"
    );
    let html = mail.body_html(0).unwrap();
    assert!(html.contains("Tern GmbH, Hauptstr. 1 &lt;Berlin&gt; &amp; co<br>"), "{html}");
    // Inserted inside the body element, not after </html>.
    let footer_at = html.find("tern-footer").unwrap();
    assert!(footer_at < html.find("</body>").unwrap(), "{html}");
}

#[test]
fn attachments_make_multipart_mixed_and_round_trip() {
    let mut m = base();
    m.html = Some("<p>see attached</p>".into());
    let binary: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let long_name = format!("{}-Angebot für Jörg — Q3 2025.pdf", "Ü".repeat(40));
    m.attachments = vec![
        Attachment { filename: "deck.pdf".into(), content_type: "application/pdf".into(), content: binary.clone() },
        Attachment {
            filename: "Präsentation – Überblick.pdf".into(),
            content_type: "Application/PDF".into(),
            content: b"%PDF-1.4 tiny".to_vec(),
        },
        Attachment {
            filename: long_name.clone(),
            content_type: "text/plain".into(),
            content: "naïve text attachment\r\n".as_bytes().to_vec(),
        },
    ];
    let raw = compose(&m).unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("Content-Type: multipart/mixed;"), "{text}");
    assert!(text.contains("Content-Type: multipart/alternative;"), "{text}");
    assert!(max_line(&raw) <= 998);

    let mail = parse(&raw);
    assert_eq!(mail.body_text(0).unwrap(), crlf(&m.text));
    assert_eq!(mail.body_html(0).unwrap(), "<p>see attached</p>");
    let attachments: Vec<_> = mail.attachments().collect();
    assert_eq!(attachments.len(), 3);
    assert_eq!(attachments[0].attachment_name(), Some("deck.pdf"));
    assert_eq!(attachments[0].contents(), &binary[..]);
    let ct = attachments[0].content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("application", Some("pdf")));
    assert_eq!(attachments[1].attachment_name(), Some("Präsentation – Überblick.pdf"));
    assert_eq!(attachments[1].contents(), b"%PDF-1.4 tiny");
    assert_eq!(attachments[2].attachment_name(), Some(long_name.as_str()));
    assert_eq!(attachments[2].contents(), "naïve text attachment\r\n".as_bytes());
}

#[test]
fn header_injection_is_refused_everywhere() {
    let payloads =
        ["x\r\nBcc: victim@evil.example", "x\nBcc: victim@evil.example", "x\rBcc: a@b.example", "x\0y", "x\u{85}y", "x\ty", "x\u{1b}[31m"];
    for p in payloads {
        let cases: Vec<(&str, Outgoing)> = vec![
            ("subject", Outgoing { subject: p.into(), ..base() }),
            ("to name", Outgoing { to: Address::new(Some(p), "lee@lead.example"), ..base() }),
            ("from name", Outgoing { from: Address::new(Some(p), "ann@sender.example"), ..base() }),
            ("to email", Outgoing { to: Address::new(None, &format!("lee@lead.example{p}")), ..base() }),
            ("message id", Outgoing { message_id: format!("a@b{p}"), ..base() }),
            ("in-reply-to", Outgoing { in_reply_to: Some(format!("a@b{p}")), ..base() }),
            ("references", Outgoing { references: vec![format!("a@b{p}")], ..base() }),
            ("extra value", Outgoing { extra_headers: vec![("X-Tern-Workspace".into(), p.into())], ..base() }),
            ("extra name", Outgoing { extra_headers: vec![(format!("X-A{p}"), "v".into())], ..base() }),
            (
                "unsubscribe",
                Outgoing {
                    list_unsubscribe: Some(ListUnsubscribe { https_url: format!("https://t.tern.dev/u{p}"), mailto: None }),
                    ..base()
                },
            ),
            (
                "mailto",
                Outgoing {
                    list_unsubscribe: Some(ListUnsubscribe {
                        https_url: "https://t.tern.dev/u".into(),
                        mailto: Some(format!("mailto:u@t.example{p}")),
                    }),
                    ..base()
                },
            ),
            (
                "filename",
                Outgoing {
                    attachments: vec![Attachment {
                        filename: format!("a{p}.pdf"),
                        content_type: "application/pdf".into(),
                        content: vec![1],
                    }],
                    ..base()
                },
            ),
            (
                "content type",
                Outgoing {
                    attachments: vec![Attachment {
                        filename: "a.pdf".into(),
                        content_type: format!("application/pdf{p}"),
                        content: vec![1],
                    }],
                    ..base()
                },
            ),
        ];
        for (what, m) in cases {
            let result = compose(&m);
            assert!(result.is_err(), "{what} with {p:?} was accepted");
            // The error message itself never carries a raw line break.
            let shown = result.unwrap_err().to_string();
            assert!(!shown.contains(['\r', '\n']), "{what}: {shown}");
        }
    }
}

#[test]
fn invalid_addresses_are_refused() {
    for bad in [
        "",
        "plain",
        "@lead.example",
        "lee@",
        "lee@localhost",
        "lee@lead..example",
        "lee@-lead.example",
        "lee@lead.example.",
        "lee..x@lead.example",
        ".lee@lead.example",
        "\"quoted\"@lead.example",
        "lee@[127.0.0.1]",
        "jörg@lead.example",
        "lee@lëad.example",
        "a b@lead.example",
        "lee@lead.example>, <evil@x.example",
        "lee@lead_example.com",
    ] {
        let m = Outgoing { to: Address::new(Some("Lee"), bad), ..base() };
        match compose(&m) {
            Err(ComposeError::InvalidAddress { .. } | ComposeError::ControlCharacter { .. }) => {}
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

#[test]
fn reserved_and_malformed_extra_headers_are_refused() {
    for name in ["Bcc", "subject", "List-Unsubscribe", "Content-Type", "Content-Foo", "Message-ID", "X Space", "X:Colon", "", "Ü-Header"] {
        let m = Outgoing { extra_headers: vec![(name.into(), "v".into())], ..base() };
        assert!(matches!(compose(&m), Err(ComposeError::InvalidHeader { .. })), "{name:?}");
    }
    let m = Outgoing { extra_headers: vec![("X-Name".into(), "Grüße".into())], ..base() };
    assert!(matches!(compose(&m), Err(ComposeError::InvalidHeader { .. })));
}

#[test]
fn bad_unsubscribe_targets_and_ids_are_refused() {
    for (url, mailto) in [
        ("http://t.tern.dev/u", None),
        ("https://t.tern.dev/u#frag", None),
        ("https:///nohost", None),
        ("https://t.tern.dev/u x", None),
        ("https://t.tern.dev/u,<https://evil.example>", None),
        ("https://t.tern.dev/u", Some("https://other.example")),
        ("https://t.tern.dev/u", Some("mailto:")),
    ] {
        let m = Outgoing { list_unsubscribe: Some(ListUnsubscribe { https_url: url.into(), mailto: mailto.map(Into::into) }), ..base() };
        assert!(matches!(compose(&m), Err(ComposeError::InvalidUnsubscribe { .. })), "{url} {mailto:?}");
    }
    for id in ["<a@b>", "no-at", "a@", "@b", "a b@c", "a@b@c", "a..b@c"] {
        let m = Outgoing { message_id: id.into(), ..base() };
        assert!(matches!(compose(&m), Err(ComposeError::InvalidMessageId { .. })), "{id}");
    }
}

#[test]
fn bad_attachments_and_dates_are_refused() {
    let attach = |filename: &str, content_type: &str| Outgoing {
        attachments: vec![Attachment { filename: filename.into(), content_type: content_type.into(), content: vec![0] }],
        ..base()
    };
    for (f, ct) in [
        ("a.pdf", "pdf"),
        ("a.pdf", "application/pdf; name=x"),
        ("a.eml", "message/rfc822"),
        ("a", "multipart/mixed"),
        ("", "application/pdf"),
        ("../etc/passwd", "text/plain"),
        ("a\\b", "text/plain"),
    ] {
        assert!(matches!(compose(&attach(f, ct)), Err(ComposeError::InvalidAttachment { .. })), "{f} {ct}");
    }
    assert!(matches!(compose(&attach(&"x".repeat(256), "text/plain")), Err(ComposeError::InvalidAttachment { .. })));
    let m = Outgoing { date_unix: i64::MAX, ..base() };
    assert_eq!(compose(&m), Err(ComposeError::InvalidDate(i64::MAX)));
}

#[test]
fn long_bodies_stay_within_line_limits() {
    let mut m = base();
    m.text = format!("{}\n{}", "x".repeat(5000), "ü".repeat(3000));
    m.html = Some(format!("<p>{}</p>", "y".repeat(10_000)));
    let raw = compose(&m).unwrap();
    assert!(max_line(&raw) <= 76 + 2, "{}", max_line(&raw));
    let mail = parse(&raw);
    assert_eq!(mail.body_text(0).unwrap(), crlf(&m.text));
    assert_eq!(mail.body_html(0).unwrap(), m.html.unwrap());
}

#[test]
fn step_message_ids_are_stable_and_compose() {
    use tern_domain::message_id::StepMessageId;
    let enrollment = "0190f1c2-aaaa-7bbb-8ccc-000000000001.0190f1c2-aaaa-7bbb-8ccc-000000000002";
    let id = StepMessageId::new(enrollment, 3, "Mail.Tern.DEV.").to_string();
    assert_eq!(id, format!("{enrollment}.3@mail.tern.dev"));
    assert_eq!(id, StepMessageId::new(enrollment, 3, "mail.tern.dev").to_string());
    assert_ne!(id, StepMessageId::new(enrollment, 4, "mail.tern.dev").to_string());
    let m = Outgoing { message_id: id.clone(), ..base() };
    let raw = compose(&m).unwrap();
    // What the message carries is what a reply's In-Reply-To names, and parses back.
    assert_eq!(parse(&raw).message_id(), Some(id.as_str()));
    assert_eq!(StepMessageId::parse(&format!("<{id}>")).map(|p| p.enrollment_id), Some(enrollment.to_string()));
}

#[test]
fn reply_subjects_do_not_stack() {
    for (input, want) in [
        ("Intro", "Re: Intro"),
        ("Re: Intro", "Re: Intro"),
        ("RE: re: Re:Intro", "Re: Intro"),
        ("AW: Sv: Intro", "Re: Intro"),
        ("Re[2]: Intro", "Re: Intro"),
        ("Re(3): Intro", "Re: Intro"),
        ("Antw: Intro", "Re: Intro"),
        ("回复： 你好", "Re: 你好"),
        ("  Re :  Intro  ", "Re: Intro"),
        ("Fwd: Intro", "Re: Fwd: Intro"),
        ("Regarding: pricing", "Re: Regarding: pricing"),
        ("Research notes", "Re: Research notes"),
        ("Resume", "Re: Resume"),
        ("", "Re:"),
        ("Re:", "Re:"),
    ] {
        assert_eq!(reply_subject(input), want, "{input:?}");
    }
}

#[test]
fn one_click_check_accepts_ours_and_names_each_problem() {
    let raw = compose(&base()).unwrap();
    assert_eq!(check_one_click(&raw), Ok(()));

    // Without List-Unsubscribe at all.
    let m = Outgoing { list_unsubscribe: None, ..base() };
    let problems = check_one_click(&compose(&m).unwrap()).unwrap_err();
    assert!(problems.iter().any(|p| p.contains("List-Unsubscribe is missing")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("List-Unsubscribe-Post is missing")), "{problems:?}");

    let head = |h: &str| format!("From: a@b.example\r\n{h}Subject: x\r\n\r\nbody\r\n");
    let cases = [
        (
            "List-Unsubscribe: <https://a.example/u>\r\nList-Unsubscribe: <https://a.example/u>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            "appears 2 times",
        ),
        (
            "List-Unsubscribe: <https://a.example/u>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            "List-Unsubscribe-Post appears 2 times",
        ),
        ("List-Unsubscribe: <mailto:u@a.example>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", "no https URI"),
        (
            "List-Unsubscribe: <https://a.example/u>, <https://b.example/u>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            "2 https URIs",
        ),
        ("List-Unsubscribe: <https://a.example/u#x>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", "fragment"),
        (
            "List-Unsubscribe: <http://a.example/u>, <https://a.example/u>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            "plain http",
        ),
        ("List-Unsubscribe: https://a.example/u\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", "angle brackets"),
        ("List-Unsubscribe: <https://a.example/u>\r\nList-Unsubscribe-Post: List-Unsubscribe=Yes\r\n", "must be exactly"),
        ("List-Unsubscribe: <https:///u>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", "no host"),
    ];
    for (headers, expected) in cases {
        let problems = check_one_click(head(headers).as_bytes()).unwrap_err();
        assert!(problems.iter().any(|p| p.contains(expected)), "{headers:?}: {problems:?}");
    }
    // Folded and with a comment-free mailto besides: fine. Header names are
    // case-insensitive; a body line that looks like a header does not count.
    let ok = "list-unsubscribe: <https://a.example/u?x=1>,\r\n <mailto:u@a.example>\r\nLIST-UNSUBSCRIBE-POST: List-Unsubscribe=One-Click\r\nSubject: x\r\n\r\nList-Unsubscribe: <https://evil.example>\r\n";
    assert_eq!(check_one_click(ok.as_bytes()), Ok(()));
    assert!(check_one_click(b"").is_err());
}

// --- properties -------------------------------------------------------------

/// Text without control characters (what a subject or a name may be).
fn header_text() -> impl Strategy<Value = String> {
    "[^\\p{Cc}]{0,200}"
}

fn display_name() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[^\\p{Cc}]{0,80}")
}

fn body_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "(?s).{0,400}",
        // Long lines, edge spaces, dots and "From " at line starts.
        proptest::collection::vec("[ .Fa-zé=\\t]{0,120}|From .{0,30}|\\.{1,3}", 0..20).prop_map(|lines| lines.join("\n")),
        "[a-z]{900,3000}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_valid_input_round_trips(
        subject in header_text(),
        from_name in display_name(),
        to_name in display_name(),
        text in body_text(),
        html in proptest::option::of(body_text()),
        attachment in proptest::option::of(("[^\\p{Cc}/\\\\]{1,60}", proptest::collection::vec(any::<u8>(), 0..300))),
    ) {
        let mut m = base();
        m.subject = subject.clone();
        m.from.name = from_name.clone();
        m.to.name = to_name.clone();
        m.text = text.clone();
        m.html = html.clone();
        if let Some((filename, content)) = &attachment {
            prop_assume!(!filename.trim().is_empty());
            m.attachments = vec![Attachment {
                filename: filename.clone(),
                content_type: "application/octet-stream".into(),
                content: content.clone(),
            }];
        }
        let raw = compose(&m).expect("valid input composes");
        prop_assert!(max_line(&raw) <= 998);
        prop_assert!(raw.is_ascii());
        let mail = parse(&raw);

        let expected_subject = if subject.is_empty() { None } else { Some(subject.as_str()) };
        prop_assert_eq!(mail.subject().filter(|s| !s.is_empty()), expected_subject);
        prop_assert_eq!(mail.body_text(0).unwrap_or_default().into_owned(), crlf(&text));
        if let Some(html) = &html {
            prop_assert_eq!(mail.body_html(0).unwrap_or_default().into_owned(), crlf(html));
        }
        for (addr, name) in [(mail.from(), &from_name), (mail.to(), &to_name)] {
            let got = addr.and_then(|a| a.first()).and_then(|a| a.name());
            let want = name.as_deref().map(str::trim).filter(|n| !n.is_empty());
            prop_assert_eq!(got, want);
        }
        if let Some((filename, content)) = &attachment {
            let part = mail.attachments().next().expect("attachment");
            prop_assert_eq!(part.attachment_name(), Some(filename.as_str()));
            prop_assert_eq!(part.contents(), &content[..]);
        }
        prop_assert_eq!(check_one_click(&raw), Ok(()));
    }

    #[test]
    fn reply_subject_is_idempotent(subject in header_text()) {
        let once = reply_subject(&subject);
        prop_assert_eq!(reply_subject(&once), once.clone());
        prop_assert!(once.starts_with("Re:"));
    }
}
