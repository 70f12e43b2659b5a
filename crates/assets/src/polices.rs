//! DejaVu Sans, Sans Bold and Sans Mono Bold (`dejavu-fonts-ttf`), the faces of every PDF.

/// (file name, bytes) of the three faces, by the names `Fonts::load` looks for in a folder.
pub const DEJAVU: [(&str, &[u8]); 3] = [
    (
        "DejaVuSans.ttf",
        include_bytes!("../../../node_modules/dejavu-fonts-ttf/ttf/DejaVuSans.ttf"),
    ),
    (
        "DejaVuSans-Bold.ttf",
        include_bytes!("../../../node_modules/dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf"),
    ),
    (
        "DejaVuSansMono-Bold.ttf",
        include_bytes!("../../../node_modules/dejavu-fonts-ttf/ttf/DejaVuSansMono-Bold.ttf"),
    ),
];

/// The bytes of `name`, one of [`DEJAVU`].
pub fn police(name: &str) -> Option<&'static [u8]> {
    DEJAVU.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}
