//! schema.org microdata (`itemscope`/`itemtype`/`itemprop`) converted to
//! JSON-LD-shaped objects, so one mapping serves both.

use scraper::{ElementRef, Html};
use serde_json::{Map, Value};

use crate::html::element_text;

/// Items read per page and nesting followed per item.
const MAX_ITEMS: usize = 50;
const MAX_DEPTH: usize = 6;

pub(crate) fn items(doc: &Html) -> Vec<Value> {
    doc.root_element()
        .descendent_elements()
        .filter(|e| e.value().attr("itemscope").is_some() && e.value().attr("itemprop").is_none())
        .take(MAX_ITEMS)
        .map(|e| item(e, 0))
        .collect()
}

fn item(scope: ElementRef<'_>, depth: usize) -> Value {
    let mut o = Map::new();
    if let Some(t) = scope.value().attr("itemtype") {
        // itemtype may list several URLs; the first names the type.
        if let Some(first) = t.split_whitespace().next() {
            o.insert("@type".into(), Value::String(first.to_owned()));
        }
    }
    // Walk the scope's subtree without entering nested scopes: their
    // properties belong to them.
    let mut stack: Vec<ElementRef<'_>> = scope.child_elements().collect();
    stack.reverse();
    while let Some(el) = stack.pop() {
        let nested = el.value().attr("itemscope").is_some();
        if let Some(props) = el.value().attr("itemprop") {
            let value =
                if nested { if depth < MAX_DEPTH { item(el, depth + 1) } else { Value::Null } } else { Value::String(prop_value(el)) };
            for p in props.split_whitespace() {
                match o.get_mut(p) {
                    Some(Value::Array(a)) => a.push(value.clone()),
                    Some(existing) => {
                        let prev = existing.take();
                        *existing = Value::Array(vec![prev, value.clone()]);
                    }
                    None => {
                        o.insert(p.to_owned(), value.clone());
                    }
                }
            }
        }
        if !nested {
            let mut children: Vec<ElementRef<'_>> = el.child_elements().collect();
            children.reverse();
            stack.extend(children);
        }
    }
    Value::Object(o)
}

fn prop_value(el: ElementRef<'_>) -> String {
    let e = el.value();
    if let Some(c) = e.attr("content") {
        return c.trim().to_owned();
    }
    let attr = match e.name() {
        "a" | "link" | "area" => e.attr("href"),
        "img" | "audio" | "video" | "source" | "iframe" | "embed" => e.attr("src"),
        "time" => e.attr("datetime"),
        "data" | "meter" => e.attr("value"),
        _ => None,
    };
    match attr {
        Some(a) => a.trim().to_owned(),
        None => element_text(el, 1000).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_items() {
        let doc = Html::parse_document(
            r#"<div itemscope itemtype="https://schema.org/Organization"><span itemprop="name">Acme Ltd</span>
               <div itemprop="address" itemscope itemtype="https://schema.org/PostalAddress">
                 <span itemprop="streetAddress">1 High St</span><span itemprop="addressCountry">GB</span></div>
               <a itemprop="telephone" href="tel:+442079460958">call</a></div>"#,
        );
        let v = items(&doc);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0]["name"], "Acme Ltd");
        assert_eq!(v[0]["address"]["streetAddress"], "1 High St");
        assert_eq!(v[0]["telephone"], "tel:+442079460958");
    }
}
