//! The suite's one role × RPC table (`tica_auth::access::TABLE`) against the contracts: every
//! RPC of every TICA service has exactly one row, and no row names an RPC the contracts lack.

use std::collections::BTreeSet;

use prost::Message;

#[test]
fn every_rpc_of_the_contracts_has_one_row_in_the_access_table_and_no_row_is_stale() {
    let set = prost_types::FileDescriptorSet::decode(tica_proto::FILE_DESCRIPTOR_SET)
        .expect("the compiled contracts decode");
    let mut contract = BTreeSet::new();
    for file in &set.file {
        let package = file.package();
        if !package.starts_with("tica.") {
            continue;
        }
        for service in &file.service {
            for method in &service.method {
                contract.insert(format!("{package}.{}/{}", service.name(), method.name()));
            }
        }
    }
    let table: BTreeSet<String> = tica_auth::access::TABLE
        .iter()
        .map(|rule| rule.rpc.to_owned())
        .collect();
    assert_eq!(tica_auth::access::TABLE.len(), table.len(), "a row twice");
    let missing: Vec<_> = contract.difference(&table).collect();
    let stale: Vec<_> = table.difference(&contract).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "not in the table: {missing:?}; not in the contracts: {stale:?}"
    );
}
