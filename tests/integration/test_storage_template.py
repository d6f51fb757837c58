"""The tables the tests run against are exactly the ones infra/storage.yaml declares."""

from infra.tables import table_definitions


def test_every_template_table_exists_with_its_key_schema(aws):
    ddb = aws["dynamodb"]
    for table in table_definitions("test-"):
        create = table["create"]
        described = ddb.describe_table(TableName=create["TableName"])["Table"]
        assert described["KeySchema"] == create["KeySchema"]
        assert _gsis(described) == _gsis(create)
        if table["ttl_attribute"]:
            ttl = ddb.describe_time_to_live(TableName=create["TableName"])["TimeToLiveDescription"]
            assert ttl["AttributeName"] == table["ttl_attribute"]


def test_bucket_and_key_are_provisioned(aws):
    assert "test-documents" in {b["Name"] for b in aws["s3"].list_buckets()["Buckets"]}
    aliases = {a["AliasName"] for a in aws["kms"].list_aliases()["Aliases"]}
    assert "alias/test-personal-data" in aliases


def _gsis(table):
    return {g["IndexName"]: g["KeySchema"] for g in table.get("GlobalSecondaryIndexes", [])}
