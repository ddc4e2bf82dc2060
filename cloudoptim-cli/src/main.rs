//! The `cloudoptim` command.

fn main() {
    std::process::exit(cloudoptim_cli::run(std::env::args_os()));
}
