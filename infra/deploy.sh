#!/usr/bin/env bash
# `make deploy`: storage stack, secret, then the API stack built by `make package`.
# Needs the AWS CLI v2 with credentials for the target account (see docs/deploying.md).
# Never run in CI. DRY_RUN=1 prints the AWS commands instead of running them.
set -euo pipefail
cd "$(dirname "$0")/.."

STAGE="${STAGE:-dev}"
PYTHON="${PYTHON:-.venv/bin/python}"
: "${ARTIFACT_BUCKET:?set ARTIFACT_BUCKET to an S3 bucket (same region) for the code uploads}"
ALARM_EMAIL="${ALARM_EMAIL:-}"
BUILD="build/package/${STAGE}"

setting() {  # a stage environment variable from .chalice/config.json
  "$PYTHON" -c "import json,sys; print(json.load(open('.chalice/config.json'))['stages'][sys.argv[1]]['environment_variables'][sys.argv[2]])" "$STAGE" "$1"
}
PREFIX="$(setting LENDING_TABLE_PREFIX)"
BUCKET="$(setting LENDING_BUCKET)"
SECRET_ID="$(setting LENDING_SECRETS_ID)"
STORAGE_STACK="lending-${STAGE}-storage"
API_STACK="lending-${STAGE}-api"

aws_() {
  if [[ -n "${DRY_RUN:-}" ]]; then echo "aws $*" >&2; echo "dry-run"; else aws "$@"; fi
}

test -f "$BUILD/template.json" || { echo "run make package STAGE=$STAGE first" >&2; exit 1; }

echo "== storage: $STORAGE_STACK (tables ${PREFIX}*, bucket $BUCKET)"
aws_ cloudformation deploy --stack-name "$STORAGE_STACK" --template-file infra/storage.yaml \
  --no-fail-on-empty-changeset \
  --parameter-overrides "TablePrefix=$PREFIX" "BucketName=$BUCKET" "AlarmEmail=$ALARM_EMAIL" >/dev/null

echo "== secret: $SECRET_ID"
if ! aws_ secretsmanager describe-secret --secret-id "$SECRET_ID" >/dev/null 2>&1; then
  VALUE="$("$PYTHON" -c 'import json, secrets; print(json.dumps({k: secrets.token_urlsafe(32) for k in ("PLATFORM_ADMIN_KEY", "API_KEY_PEPPER", "TOKEN_SIGNING_SECRET")}))')"
  aws_ secretsmanager create-secret --name "$SECRET_ID" --secret-string "$VALUE" >/dev/null
  echo "   created with random values; read the admin key with:"
  echo "   aws secretsmanager get-secret-value --secret-id $SECRET_ID --query SecretString"
fi

echo "== upload code to s3://$ARTIFACT_BUCKET"
aws_ cloudformation package --template-file "$BUILD/template.json" --use-json \
  --s3-bucket "$ARTIFACT_BUCKET" --s3-prefix "lending-api/$STAGE" \
  --output-template-file "$BUILD/packaged.json" >/dev/null

TOPIC="$(aws_ cloudformation describe-stacks --stack-name "$STORAGE_STACK" \
  --query "Stacks[0].Outputs[?OutputKey=='AlarmTopicArn'].OutputValue" --output text)"

echo "== api: $API_STACK"
aws_ cloudformation deploy --stack-name "$API_STACK" --template-file "$BUILD/packaged.json" \
  --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
  --parameter-overrides "AlarmTopicArn=$TOPIC" >/dev/null

URL="$(aws_ cloudformation describe-stacks --stack-name "$API_STACK" \
  --query "Stacks[0].Outputs[?OutputKey=='EndpointURL'].OutputValue" --output text)"
echo "== deployed: ${URL}v1/health"
