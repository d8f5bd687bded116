//! gcrecon-genesys
