//! The `rawarrow` command-line tool; see `rawarrow --help`.

fn main() -> std::process::ExitCode {
    rawarrow::cli::main()
}
