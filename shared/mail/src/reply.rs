//! Extracts what the sender newly wrote: everything before the quoted
//! history, forwarded-header block or signature, minus `>` lines.

/// Attribution lines end with one of these ("On Tue, Ann wrote:").
const ATTRIBUTION_ENDINGS: &[&str] = &[
    "wrote:",
    "writes:",
    "schrieb:",
    "geschrieben:",
    "a écrit :",
    "a écrit:",
    "a ecrit :",
    "a ecrit:",
    "escribió:",
    "escribio:",
    "ha scritto:",
    "schreef:",
    "schreef ",
    "escreveu:",
    "skrev:",
    "napisał:",
];

/// Attribution lines start with one of these, in the languages we match.
const ATTRIBUTION_STARTS: &[&str] = &["on ", "am ", "le ", "el ", "il ", "op ", "em ", "den ", "w dniu "];

/// Header names that open a forwarded/quoted header block (Outlook style).
const BLOCK_FROM: &[&str] = &["from:", "von:", "de:", "da:", "van:", "fra:", "od:"];

/// Header names that follow the From line in such a block.
const BLOCK_NEXT: &[&str] = &[
    "sent:",
    "date:",
    "gesendet:",
    "datum:",
    "envoyé :",
    "envoyé:",
    "date :",
    "enviado:",
    "enviado el:",
    "inviato:",
    "data:",
    "verzonden:",
    "verstuurd:",
    "to:",
    "an:",
    "à :",
    "à:",
    "para:",
    "a:",
    "aan:",
    "subject:",
    "betreff:",
    "objet :",
    "objet:",
    "asunto:",
    "oggetto:",
    "onderwerp:",
    "assunto:",
    "cc:",
];

/// Lines that end the new text on their own.
const SEPARATOR_PREFIXES: &[&str] = &[
    "-----original message-----",
    "----- original message -----",
    "-----ursprüngliche nachricht-----",
    "----- ursprüngliche nachricht -----",
    "-----message d'origine-----",
    "----- message d'origine -----",
    "-----mensaje original-----",
    "----- mensaje original -----",
    "-----messaggio originale-----",
    "----- messaggio originale -----",
    "-----oorspronkelijk bericht-----",
    "----- oorspronkelijk bericht -----",
    "-----mensagem original-----",
    "----- mensagem original -----",
    "---------- forwarded message",
    "---------- weitergeleitete nachricht",
    "begin forwarded message:",
    "anfang der weitergeleiteten nachricht:",
    "début du message réexpédié :",
];

/// Mobile and client footers that stand in for a signature.
const FOOTER_PREFIXES: &[&str] = &[
    "sent from my ",
    "sent from outlook",
    "get outlook for ",
    "von meinem iphone gesendet",
    "von meinem ipad gesendet",
    "gesendet von meinem",
    "envoyé de mon ",
    "enviado desde mi ",
    "enviado do meu ",
    "inviato da ",
    "verzonden vanaf mijn ",
    "verstuurd vanaf mijn ",
];

/// The new text of a reply body.
pub(crate) fn new_text(body: &str) -> String {
    let lines: Vec<&str> = body.lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    for (i, raw_line) in lines.iter().enumerate() {
        let line = raw_line.trim_end_matches('\r');
        let trimmed = line.trim();
        if trimmed.starts_with('>') {
            continue;
        }
        if trimmed == "--" || line == "-- " || trimmed == "—" || trimmed == "__" {
            break;
        }
        let lower = trimmed.trim_start_matches('*').to_lowercase();
        if is_separator(&lower) || FOOTER_PREFIXES.iter().any(|p| lower.starts_with(p)) {
            break;
        }
        if is_attribution(&lower, lines.get(i + 1).copied()) {
            break;
        }
        if is_header_block(&lower, &lines[i + 1..]) {
            break;
        }
        kept.push(line);
    }
    let mut out = String::new();
    let mut blank_run = 0;
    for line in kept {
        if line.trim().is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
            if blank_run > 0 {
                out.push('\n');
            }
        }
        blank_run = 0;
        out.push_str(line.trim_end());
    }
    out
}

fn is_separator(lower: &str) -> bool {
    if SEPARATOR_PREFIXES.iter().any(|p| lower.starts_with(p)) {
        return true;
    }
    // Outlook's rule line before the quoted header block.
    lower.len() >= 10 && lower.bytes().all(|b| b == b'_')
}

fn is_attribution(lower: &str, next: Option<&str>) -> bool {
    if !ATTRIBUTION_STARTS.iter().any(|p| lower.starts_with(p)) {
        return false;
    }
    if ATTRIBUTION_ENDINGS.iter().any(|e| lower.ends_with(e.trim_end())) || lower.contains(" schrieb ") {
        return true;
    }
    // Clients wrap long attributions: "On Tue, 4 Mar 2025, Ann <a@x>\nwrote:".
    if let Some(next) = next {
        let joined = format!("{} {}", lower, next.trim().to_lowercase());
        return lower.len() < 200 && ATTRIBUTION_ENDINGS.iter().any(|e| joined.ends_with(e.trim_end()));
    }
    false
}

fn is_header_block(lower: &str, rest: &[&str]) -> bool {
    if !BLOCK_FROM.iter().any(|p| lower.starts_with(p)) {
        return false;
    }
    rest.iter().take(4).any(|l| {
        let l = l.trim().trim_start_matches('*').to_lowercase();
        BLOCK_NEXT.iter().any(|p| l.starts_with(p))
    })
}

#[cfg(test)]
mod tests {
    use super::new_text;

    #[test]
    fn strips_gmail_attribution_and_quotes() {
        let body = "Yes, Tuesday works.\n\nOn Mon, 3 Mar 2025 at 10:00, Bob <b@x.com>\nwrote:\n> Would Tuesday work?\n";
        assert_eq!(new_text(body), "Yes, Tuesday works.");
    }

    #[test]
    fn strips_outlook_header_block_in_german() {
        let body = "Kein Interesse.\n\nVon: Bob <b@x.com>\nGesendet: Montag, 3. März 2025 10:00\nAn: Ann\nBetreff: Angebot\n\nHallo Ann,";
        assert_eq!(new_text(body), "Kein Interesse.");
    }

    #[test]
    fn strips_signature_and_original_message() {
        let body = "Thanks\n-- \nAnn Smith\nCEO\n-----Original Message-----\nFrom: b";
        assert_eq!(new_text(body), "Thanks");
        let body = "Merci\n\n-----Message d'origine-----\nDe : b";
        assert_eq!(new_text(body), "Merci");
    }

    #[test]
    fn keeps_a_line_that_merely_starts_like_an_attribution() {
        let body = "On Tuesday we can talk.\nBest, Ann";
        assert_eq!(new_text(body), "On Tuesday we can talk.\nBest, Ann");
    }
}
