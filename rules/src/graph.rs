//! The wiring of a desired state as a graph: buckets → bus (or native notifications) →
//! rules → targets (queues, topics, buses) → subscriptions and dead-letter queues, and its
//! renderings: Mermaid and Graphviz text, and an SVG (or an HTML page holding it) laid out
//! here, so that no graphviz or browser is needed to draw it.
//!
//! The layout is layered: each node sits one column right of its furthest predecessor, and
//! within a column nodes follow the mean row of their predecessors, which keeps most edges
//! short and uncrossed for the shapes projects have (fan-out from a few rules).

use std::fmt::Write;

use crate::desired::{Desired, Destination, Endpoint, NotificationDestination};

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeKind {
    Bucket,
    Bus,
    Rule,
    Queue,
    Topic,
    /// An e-mail address, HTTPS endpoint or other subscriber.
    Subscriber,
    /// A resource outside the project, by ARN.
    External,
}

impl NodeKind {
    fn name(self) -> &'static str {
        match self {
            NodeKind::Bucket => "bucket",
            NodeKind::Bus => "bus",
            NodeKind::Rule => "rule",
            NodeKind::Queue => "queue",
            NodeKind::Topic => "topic",
            NodeKind::Subscriber => "subscriber",
            NodeKind::External => "external",
        }
    }

    /// Fill colour in the SVG.
    fn fill(self) -> &'static str {
        match self {
            NodeKind::Bucket => "#e8f5e9",
            NodeKind::Bus => "#ede7f6",
            NodeKind::Rule => "#fff8e1",
            NodeKind::Queue => "#e3f2fd",
            NodeKind::Topic => "#fce4ec",
            NodeKind::Subscriber => "#f5f5f5",
            NodeKind::External => "#eeeeee",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Unique: `kind:name`.
    pub id: String,
    pub kind: NodeKind,
    pub label: String,
    /// A second line: a rule's pattern in brief, a queue's FIFO/encryption marks.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub label: Option<String>,
    /// Dead-letter and redrive edges are drawn dashed.
    pub dashed: bool,
}

/// The graph of one desired state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

impl Graph {
    /// The wiring `desired` declares.
    pub fn of(desired: &Desired) -> Graph {
        let mut g = Graph::default();
        let queue_detail = |name: &str| {
            desired
                .queues
                .iter()
                .find(|q| q.name == name)
                .and_then(|q| {
                    let mut marks = Vec::new();
                    if q.attributes.get("FifoQueue").is_some_and(|v| v == "true") {
                        marks.push("FIFO");
                    }
                    if q.attributes.contains_key("KmsMasterKeyId") {
                        marks.push("KMS-encrypted");
                    }
                    (!marks.is_empty()).then(|| marks.join(", "))
                })
        };
        let queue = |g: &mut Graph, name: &str| -> String {
            let (kind, label) = if name.starts_with("arn:") {
                (NodeKind::External, name.to_string())
            } else {
                (NodeKind::Queue, name.to_string())
            };
            g.node(kind, &label, queue_detail(name))
        };
        for b in desired.buckets.iter().filter(|b| b.routes_events()) {
            let bucket = g.node(NodeKind::Bucket, &b.name, None);
            if b.eventbridge {
                let bus = g.node(NodeKind::Bus, &desired.bus, None);
                g.edge(&bucket, &bus, Some("EventBridge".into()), false);
            }
            for n in &b.notifications {
                let to = match &n.destination {
                    NotificationDestination::Queue(q) => queue(&mut g, q),
                    NotificationDestination::Topic(t) => g.node(NodeKind::Topic, t, None),
                };
                g.edge(&bucket, &to, Some(format!("native: {}", n.id)), false);
            }
        }
        for r in &desired.rules {
            let bus = g.node(NodeKind::Bus, &r.bus, None);
            let trigger = match (&r.pattern, &r.schedule) {
                (_, Some(schedule)) => schedule.clone(),
                (Some(pattern), None) => brief_pattern(pattern),
                (None, None) => String::new(),
            };
            let detail = Some(trigger).map(|d| {
                if r.enabled {
                    d
                } else {
                    format!("DISABLED · {d}")
                }
            });
            let rule = g.node(NodeKind::Rule, &r.name, detail);
            g.edge(&bus, &rule, None, false);
            for t in &r.targets {
                let to = match &t.destination {
                    Destination::Queue(q) => queue(&mut g, q),
                    Destination::Topic(tp) => g.node(NodeKind::Topic, tp, None),
                    Destination::Bus(b) if crate::names::is_arn(b) => {
                        g.node(NodeKind::External, b, None)
                    }
                    Destination::Bus(b) => g.node(NodeKind::Bus, b, None),
                    Destination::Arn(a) => g.node(NodeKind::External, a, None),
                };
                let shaped =
                    t.input.is_some() || t.input_path.is_some() || t.input_transformer.is_some();
                let label = if shaped {
                    format!("{} (transformed)", t.id)
                } else {
                    t.id.clone()
                };
                g.edge(&rule, &to, Some(label), false);
                if let Some(dlq) = &t.dead_letter_queue {
                    let dlq = queue(&mut g, dlq);
                    g.edge(&rule, &dlq, Some("undeliverable".into()), true);
                }
            }
        }
        for s in &desired.subscriptions {
            let topic = g.node(NodeKind::Topic, &s.topic, None);
            let (to, label) = match &s.endpoint {
                Endpoint::Queue(q) => (queue(&mut g, q), "sqs".to_string()),
                Endpoint::Other { protocol, endpoint } => (
                    g.node(NodeKind::Subscriber, endpoint, None),
                    protocol.clone(),
                ),
            };
            g.edge(&topic, &to, Some(label), false);
        }
        for q in &desired.queues {
            if let Some(d) = &q.dead_letter {
                let from = queue(&mut g, &q.name);
                let to = queue(&mut g, &d.queue);
                g.edge(
                    &from,
                    &to,
                    Some(format!("after {} receives", d.max_receive_count)),
                    true,
                );
            }
        }
        // Declared queues and topics nothing sends to are part of the picture too.
        for q in &desired.queues {
            queue(&mut g, &q.name);
        }
        for t in &desired.topics {
            g.node(NodeKind::Topic, &t.name, None);
        }
        g
    }

    /// Adds a node once; returns its id.
    fn node(&mut self, kind: NodeKind, label: &str, detail: Option<String>) -> String {
        let id = format!("{}:{label}", kind.name());
        if !self.nodes.iter().any(|n| n.id == id) {
            self.nodes.push(Node {
                id: id.clone(),
                kind,
                label: label.to_string(),
                detail,
            });
        }
        id
    }

    fn edge(&mut self, from: &str, to: &str, label: Option<String>, dashed: bool) {
        let edge = Edge {
            from: from.to_string(),
            to: to.to_string(),
            label,
            dashed,
        };
        if !self.edges.contains(&edge) {
            self.edges.push(edge);
        }
    }

    fn index(&self, id: &str) -> usize {
        self.nodes.iter().position(|n| n.id == id).unwrap_or(0)
    }

    /// Mermaid flowchart text (GitHub and many editors render it).
    pub fn mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        for (i, n) in self.nodes.iter().enumerate() {
            let text = label_text(n).replace('"', "#quot;");
            let shape = match n.kind {
                NodeKind::Bucket => format!("n{i}[(\"{text}\")]"),
                NodeKind::Bus => format!("n{i}{{{{\"{text}\"}}}}"),
                NodeKind::Rule => format!("n{i}[/\"{text}\"/]"),
                _ => format!("n{i}[\"{text}\"]"),
            };
            let _ = writeln!(out, "  {shape}");
        }
        for e in &self.edges {
            let arrow = if e.dashed { "-.->" } else { "-->" };
            let (a, b) = (self.index(&e.from), self.index(&e.to));
            match &e.label {
                Some(l) => {
                    let _ = writeln!(out, "  n{a} {arrow}|\"{}\"| n{b}", l.replace('"', "#quot;"));
                }
                None => {
                    let _ = writeln!(out, "  n{a} {arrow} n{b}");
                }
            }
        }
        out
    }

    /// Graphviz `dot` text.
    pub fn dot(&self) -> String {
        let mut out = String::from(
            "digraph bridge {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n",
        );
        for (i, n) in self.nodes.iter().enumerate() {
            let _ = writeln!(
                out,
                "  n{i} [label=\"{}\", fillcolor=\"{}\"];",
                dot_escape(&label_text(n)),
                n.kind.fill()
            );
        }
        for e in &self.edges {
            let (a, b) = (self.index(&e.from), self.index(&e.to));
            let mut attrs = Vec::new();
            if let Some(l) = &e.label {
                attrs.push(format!("label=\"{}\"", dot_escape(l)));
            }
            if e.dashed {
                attrs.push("style=dashed".to_string());
            }
            let _ = writeln!(out, "  n{a} -> n{b} [{}];", attrs.join(", "));
        }
        out.push_str("}\n");
        out
    }

    /// Columns and rows: each node one column right of its furthest predecessor.
    fn layout(&self) -> Vec<(usize, usize)> {
        let n = self.nodes.len();
        let mut column = vec![0usize; n];
        let edges: Vec<(usize, usize)> = self
            .edges
            .iter()
            .map(|e| (self.index(&e.from), self.index(&e.to)))
            .filter(|(a, b)| a != b)
            .collect();
        // Longest path, bounded so that a cycle cannot run forever.
        for _ in 0..n {
            let mut changed = false;
            for &(a, b) in &edges {
                if column[b] < column[a] + 1 && column[a] + 1 < n.max(1) {
                    column[b] = column[a] + 1;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let columns = column.iter().copied().max().map_or(0, |m| m + 1);
        let mut row = vec![0usize; n];
        for c in 0..columns {
            let mut members: Vec<(f64, usize)> = (0..n)
                .filter(|&i| column[i] == c)
                .map(|i| {
                    let preds: Vec<usize> = edges
                        .iter()
                        .filter(|(_, b)| *b == i)
                        .map(|(a, _)| row[*a])
                        .collect();
                    let key = if preds.is_empty() {
                        i as f64
                    } else {
                        preds.iter().sum::<usize>() as f64 / preds.len() as f64
                    };
                    (key, i)
                })
                .collect();
            members.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for (r, (_, i)) in members.into_iter().enumerate() {
                row[i] = r;
            }
        }
        column.into_iter().zip(row).collect()
    }

    /// A standalone SVG picture of the graph.
    pub fn svg(&self) -> String {
        const W: usize = 230;
        const H: usize = 46;
        const GAP_X: usize = 90;
        const GAP_Y: usize = 22;
        const MARGIN: usize = 20;
        let places = self.layout();
        let columns = places.iter().map(|p| p.0 + 1).max().unwrap_or(1);
        let rows = places.iter().map(|p| p.1 + 1).max().unwrap_or(1);
        let width = 2 * MARGIN + columns * W + (columns - 1) * GAP_X;
        let height = 2 * MARGIN + rows * H + (rows - 1) * GAP_Y;
        let xy = |i: usize| {
            let (c, r) = places[i];
            (MARGIN + c * (W + GAP_X), MARGIN + r * (H + GAP_Y))
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, 'DejaVu Sans', sans-serif">"##
        );
        out.push_str(r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>"##);
        let _ = writeln!(
            out,
            r##"<rect width="{width}" height="{height}" fill="#ffffff"/>"##
        );
        for e in &self.edges {
            let (a, b) = (self.index(&e.from), self.index(&e.to));
            let ((ax, ay), (bx, by)) = (xy(a), xy(b));
            let (x1, y1) = (ax + W, ay + H / 2);
            let (x2, y2) = (bx, by + H / 2);
            let bend = (x2 as f64 - x1 as f64).abs().max(60.0) / 2.0;
            let dash = if e.dashed {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            };
            let _ = writeln!(
                out,
                r##"<path d="M{x1},{y1} C{:.0},{y1} {:.0},{y2} {x2},{y2}" fill="none" stroke="#555" stroke-width="1.3"{dash} marker-end="url(#arrow)"/>"##,
                x1 as f64 + bend,
                x2 as f64 - bend
            );
            if let Some(l) = &e.label {
                let (mx, my) = ((x1 + x2) / 2, (y1 + y2) / 2);
                let _ = writeln!(
                    out,
                    r##"<text x="{mx}" y="{}" font-size="10" text-anchor="middle" fill="#333">{}</text>"##,
                    my.saturating_sub(4),
                    xml_escape(&clip(l, 34))
                );
            }
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let (x, y) = xy(i);
            let _ = writeln!(
                out,
                r##"<g><title>{}</title><rect x="{x}" y="{y}" width="{W}" height="{H}" rx="8" fill="{}" stroke="#666"/>"##,
                xml_escape(&format!("{} {}", n.kind.name(), n.label)),
                n.kind.fill()
            );
            let _ = writeln!(
                out,
                r##"<text x="{}" y="{}" font-size="12" font-weight="bold">{}</text>"##,
                x + 10,
                y + 19,
                xml_escape(&clip(&format!("{} {}", n.kind.name(), n.label), 30))
            );
            if let Some(d) = &n.detail {
                let _ = writeln!(
                    out,
                    r##"<text x="{}" y="{}" font-size="10" fill="#444">{}</text>"##,
                    x + 10,
                    y + 36,
                    xml_escape(&clip(d, 40))
                );
            }
            out.push_str("</g>\n");
        }
        out.push_str("</svg>\n");
        out
    }

    /// An HTML page showing the SVG (no script, no network).
    pub fn html(&self, title: &str) -> String {
        format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title>\
             <style>body{{font-family:Helvetica,Arial,sans-serif;margin:24px}}</style></head>\
             <body><h1>{}</h1>\n{}</body></html>\n",
            xml_escape(title),
            xml_escape(title),
            self.svg()
        )
    }
}

/// A rule's pattern in brief: its `source` and `detail-type` values, else the field names.
pub fn brief_pattern(pattern: &str) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(pattern)
    else {
        return pattern.to_string();
    };
    let values = |key: &str| {
        map.get(key).and_then(|v| v.as_array()).map(|a| {
            a.iter()
                .map(|x| match x {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
    };
    let parts: Vec<String> = [values("source"), values("detail-type")]
        .into_iter()
        .flatten()
        .collect();
    if parts.is_empty() {
        map.keys().cloned().collect::<Vec<_>>().join(", ")
    } else {
        parts.join(" · ")
    }
}

fn label_text(n: &Node) -> String {
    match &n.detail {
        Some(d) => format!("{} {}: {d}", n.kind.name(), n.label),
        None => format!("{} {}", n.kind.name(), n.label),
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}
