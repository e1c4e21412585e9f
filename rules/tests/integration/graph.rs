//! `bridge graph`: every declared resource is in the picture, and the SVG renders.

use std::path::PathBuf;

use rules::desired::Desired;
use rules::graph::{Graph, NodeKind};

fn example(name: &str) -> Desired {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name);
    let project = rules::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    Desired::from_project(&project, None).expect("desired")
}

#[test]
fn every_declared_resource_is_a_node_and_every_route_an_edge() {
    for name in ["", "quilt", "s3-routing", "deletion-alerts"] {
        let desired = example(name);
        let g = Graph::of(&desired);
        let has = |kind: NodeKind, label: &str| {
            g.nodes.iter().any(|n| n.kind == kind && n.label == label)
        };
        for q in &desired.queues {
            assert!(has(NodeKind::Queue, &q.name), "{name}: queue {}", q.name);
        }
        for t in &desired.topics {
            assert!(has(NodeKind::Topic, &t.name), "{name}: topic {}", t.name);
        }
        for r in &desired.rules {
            assert!(has(NodeKind::Rule, &r.name), "{name}: rule {}", r.name);
            let from = format!("rule:{}", r.name);
            assert_eq!(
                g.edges
                    .iter()
                    .filter(|e| e.from == from && !e.dashed)
                    .count(),
                r.targets.len(),
                "{name}: targets of {}",
                r.name
            );
        }
        let mermaid = g.mermaid();
        let dot = g.dot();
        for n in &g.nodes {
            assert!(
                mermaid.contains(&n.label),
                "{name}: mermaid lacks {}",
                n.label
            );
            assert!(dot.contains(&n.label), "{name}: dot lacks {}", n.label);
        }
        assert_eq!(dot.matches(" -> ").count(), g.edges.len());
    }
}

#[test]
fn the_svg_renders_and_names_every_resource() {
    let desired = example("quilt");
    let g = Graph::of(&desired);
    let svg = g.svg();
    for n in &g.nodes {
        let shown = n.label.chars().take(20).collect::<String>();
        assert!(svg.contains(&shown), "svg lacks {}", n.label);
    }
    let mut options = resvg::usvg::Options::default();
    options.fontdb_mut().load_system_fonts();
    let tree = resvg::usvg::Tree::from_str(&svg, &options).expect("valid SVG");
    let size = tree.size().to_int_size();
    assert!(size.width() > 600 && size.height() > 100, "{size:?}");
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).expect("pixmap");
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    // Boxes and lines were drawn: many pixels are not the white background.
    let drawn = pixmap
        .pixels()
        .iter()
        .filter(|p| p.red() < 240 || p.green() < 240 || p.blue() < 240)
        .count();
    assert!(drawn > 10_000, "only {drawn} non-white pixels");
    // And where the machine has a font (CI installs DejaVu), the labels were drawn: text is
    // the only near-black ink (boxes are pastel, lines #555).
    if !options.fontdb.is_empty() {
        let ink = pixmap
            .pixels()
            .iter()
            .filter(|p| p.alpha() > 0 && p.red() < 50 && p.green() < 50 && p.blue() < 50)
            .count();
        assert!(ink > 2_000, "labels not drawn: {ink} dark pixels");
    }
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("graph-quilt.png");
    pixmap
        .save_png(&out)
        .expect("write the picture for a person to look at");
}
