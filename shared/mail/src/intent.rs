//! Unsubscribe requests in what a person wrote.
//!
//! Phrases are matched on the new text only (quoted history removed), one
//! line at a time, so our own footer quoted back ("reply STOP to
//! unsubscribe") and links do not count. A phrase preceded closely by a
//! negation ("please don't remove me") does not count either.

use crate::text::{fold, has_word};

/// Requests that carry their own meaning, negation included where the
/// request is itself negative ("do not email me").
const REQUESTS: &[&str] = &[
    // English
    "unsubscribe",
    "remove me",
    "remove my email",
    "remove my address",
    "remove us",
    "remove this email",
    "remove this address",
    "take me off",
    "take us off",
    "stop emailing",
    "stop e-mailing",
    "stop sending",
    "stop contacting",
    "stop messaging",
    "stop writing to me",
    "stop spamming",
    "don't email me",
    "dont email me",
    "do not email me",
    "don't contact me",
    "dont contact me",
    "do not contact me",
    "don't contact us",
    "do not contact us",
    "don't send me",
    "do not send me",
    "no more emails",
    "no more e-mails",
    "opt me out",
    "opt out",
    "opt-out",
    "off your list",
    "off your mailing list",
    "leave me alone",
    "never contact me",
    "delete my email",
    "delete my data",
    "delete my contact",
    // German
    "abmelden",
    "abbestellen",
    "austragen",
    "entfernen sie mich",
    "bitte entfernen",
    "mich entfernen",
    "keine weiteren e-mails",
    "keine weiteren mails",
    "keine e-mails mehr",
    "keine mails mehr",
    "nicht mehr kontaktieren",
    "nicht mehr anschreiben",
    "nicht mehr schreiben",
    "aus ihrem verteiler",
    "aus dem verteiler",
    "aus ihrer liste",
    "löschen sie meine",
    "kontaktieren sie mich nicht",
    // French
    "désinscrire",
    "desinscrire",
    "désabonner",
    "desabonner",
    "désinscription",
    "désabonnement",
    "retirez-moi",
    "retirez moi",
    "supprimez-moi",
    "supprimez moi",
    "ne plus recevoir",
    "ne me contactez plus",
    "arrêtez de m'envoyer",
    "arretez de m'envoyer",
    "cessez de m'envoyer",
    "me retirer de votre liste",
    // Spanish
    "darme de baja",
    "dar de baja",
    "denme de baja",
    "elimínenme",
    "eliminenme",
    "eliminarme",
    "borrarme",
    "bórrenme",
    "quitarme de",
    "sacarme de",
    "no me envíen",
    "no me envien",
    "no quiero recibir",
    "no me contacten",
    "dejen de enviarme",
    // Italian
    "cancellami",
    "cancellarmi",
    "disiscrivi",
    "disiscrivermi",
    "rimuovetemi",
    "rimuovermi",
    "rimuovere il mio",
    "non inviatemi",
    "non voglio ricevere",
    "non contattatemi",
    "non scrivetemi",
    "smettete di inviarmi",
    // Dutch
    "afmelden",
    "uitschrijven",
    "verwijder mij",
    "verwijder me",
    "haal me van",
    "haal mij van",
    "geen e-mails meer",
    "geen mails meer",
    "niet meer mailen",
    "niet meer benaderen",
    "niet meer contacteren",
    // Portuguese
    "descadastrar",
    "descadastre",
    "remover-me",
    "remova-me",
    "me remova",
    "me remover",
    "cancelar inscrição",
    "cancelar a inscrição",
    "não quero receber",
    "nao quero receber",
    "parem de enviar",
    "parem de me enviar",
    "me tire da lista",
    "tirem-me da lista",
    "não me contatem",
    "nao me contatem",
];

/// Words that, just before a request, turn it around.
const NEGATIONS: &[&str] = &[
    "don't",
    "dont",
    "do not",
    "didn't",
    "did not",
    "no need to",
    "not",
    "never",
    "won't",
    "nicht",
    "kein",
    "ne pas",
    "pas",
    "no",
    "non",
    "niet",
    "não",
    "nao",
];

/// Lines holding these are instructions or links (usually our own footer
/// quoted back), not a request.
const INSTRUCTION_MARKERS: &[&str] = &[
    "http://",
    "https://",
    "click",
    "link",
    "reply with",
    "reply \"",
    "reply '",
    "if you no longer",
    "if you would like",
    "if you'd like",
    "if you wish",
    "to unsubscribe",
    "unsubscribe here",
    "unsubscribe link",
];

/// Words allowed around "stop"/"unsubscribe" in a message that says nothing
/// else ("STOP", "Stop please.", "unsubscribe, thanks").
const BARE_FILLER: &[&str] = &[
    "stop",
    "unsubscribe",
    "please",
    "pls",
    "plz",
    "thanks",
    "thank",
    "you",
    "now",
    "it",
    "bitte",
    "merci",
    "gracias",
    "grazie",
    "bedankt",
    "obrigado",
    "obrigada",
    "danke",
];

/// The phrase that makes `new_text` an unsubscribe request, if any.
pub(crate) fn unsubscribe_request(new_text: &str) -> Option<String> {
    let folded = fold(new_text);
    if is_bare_stop(&folded) {
        return Some("bare \"stop\"".into());
    }
    for line in new_text.lines() {
        let line = fold(line);
        if line.is_empty() || INSTRUCTION_MARKERS.iter().any(|m| line.contains(m)) {
            continue;
        }
        for phrase in REQUESTS {
            let mut from = 0;
            while let Some(pos) = line[from..].find(phrase) {
                let at = from + pos;
                if !negated(&line[..at]) && boundary_ok(&line, at, phrase) {
                    return Some(format!("text: \"{phrase}\""));
                }
                from = at + phrase.len();
            }
        }
    }
    None
}

fn is_bare_stop(folded: &str) -> bool {
    let words: Vec<&str> = folded.split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).collect();
    !words.is_empty()
        && words.len() <= 5
        && words.iter().any(|w| *w == "stop" || *w == "unsubscribe")
        && words.iter().all(|w| BARE_FILLER.contains(w))
}

/// Whether one of the three words before the phrase, within its clause,
/// negates ("not interested, please remove me" is still a request).
fn negated(prefix: &str) -> bool {
    let clause = prefix.rfind([',', '.', ';', '!', '?', ':']).map_or(prefix, |i| &prefix[i + 1..]);
    let tail: Vec<&str> = clause.split_whitespace().rev().take(3).collect();
    let window: String = tail.into_iter().rev().collect::<Vec<_>>().join(" ");
    NEGATIONS.iter().any(|n| has_word(&window, n))
}

/// Phrases must start at a word boundary ("opt out" inside "adopt out" is
/// not one).
fn boundary_ok(line: &str, at: usize, _phrase: &str) -> bool {
    at == 0 || line[..at].chars().next_back().is_none_or(|c| !c.is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::unsubscribe_request;

    #[test]
    fn requests_in_several_languages() {
        for t in [
            "Please remove me from your list.",
            "Bitte nehmen Sie mich aus Ihrem Verteiler.",
            "Merci de me retirer de votre liste.",
            "Por favor, darme de baja.",
            "Vi prego di cancellarmi.",
            "Graag afmelden.",
            "Por favor, me remova da lista.",
            "STOP",
            "stop please",
        ] {
            assert!(unsubscribe_request(t).is_some(), "{t}");
        }
    }

    #[test]
    fn not_requests() {
        for t in [
            "Stop by our booth at the fair!",
            "Please don't remove me, I am interested.",
            "Not interested.",
            "Yes, Tuesday works.",
            "If you no longer wish to hear from us, click here to unsubscribe.",
        ] {
            assert!(unsubscribe_request(t).is_none(), "{t}");
        }
    }
}
