//! The `rawarrow` command-line tool; see `rawarrow --help`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
