//! Prints the directives of Markdown files: `cargo run --example directives -- FILE...`.

fn main() {
    let reader = skillgate_instructions::Reader::embedded();
    for path in std::env::args().skip(1) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for d in reader.directives(&text, 1) {
            let actions: Vec<String> = d
                .actions
                .iter()
                .map(|a| format!("{:?}:{}", a.class, a.words))
                .collect();
            let objects: Vec<&str> = d.objects.iter().map(|o| o.id.as_str()).collect();
            #[allow(clippy::print_stdout)]
            {
                println!(
                    "{path}:{} [{:?}] trigger={:?} to_user={} actions={actions:?} objects={objects:?} dest={:?}\n    {}",
                    d.line,
                    d.place,
                    d.trigger,
                    d.to_user,
                    d.destinations,
                    d.text.chars().take(200).collect::<String>()
                );
            }
        }
    }
}
