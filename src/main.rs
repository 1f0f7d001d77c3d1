fn main() {
    std::process::exit(parasync::run_main());
}
