//! gcrecon-engine
