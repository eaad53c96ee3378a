mod common;
use common::*;
use serde_json::json;

#[test]
fn print_seed() {
    let r = fixture("pod_eshop_cart_app_sidecar_without_mount.json");
    let resp = respond(&r, json!({}));
    println!("{}", serde_json::to_string_pretty(&resp).unwrap());
}
