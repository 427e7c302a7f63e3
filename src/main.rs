fn main() {
    std::process::exit(clearsight::cli::main());
}
