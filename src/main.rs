/// mimalloc: the query engine allocates and frees many small buffers; glibc's malloc showed
/// up as ~10% of a build's profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    clearsight::engine::no_transparent_huge_pages();
    std::process::exit(clearsight::cli::main());
}
