"""The media bucket lets a page on another origin (the console, a tenant's frontend) POST a presigned upload.

The browser sends a CORS preflight before the POST; without the template's CorsConfiguration S3 answers it
without `Access-Control-Allow-Origin` and the browser never sends the upload. That only shows on AWS (the
console is served from the API's domain, the bucket from S3's).
"""

from __future__ import annotations

from zapgate_devstack.template import load_template, resources_of_type


def test_the_template_allows_presigned_posts_from_the_configured_origins() -> None:
    template = load_template()
    rules = resources_of_type(template, "AWS::S3::Bucket")["MediaBucket"]["Properties"]["CorsConfiguration"]
    (rule,) = rules["CorsRules"]
    assert rule["AllowedMethods"] == ["POST"]  # uploads only: reads are presigned GETs, which need no CORS
    assert rule["AllowedOrigins"] == {"Ref": "MediaUploadOrigins"}
    assert template["Parameters"]["MediaUploadOrigins"]["Type"] == "CommaDelimitedList"


def test_the_devstack_bucket_carries_the_templates_cors_rules(aws_env: dict[str, str]) -> None:
    from zapgate_control.aws import client

    # The rules themselves, not a preflight: moto's server answers any preflight with every method allowed,
    # whatever the bucket's CORS configuration (checked: without one it still allows), so a preflight
    # through it would pass with or without this fix.
    configured = client("s3").get_bucket_cors(Bucket=aws_env["MEDIA_BUCKET"])["CORSRules"]
    assert [(r["AllowedMethods"], r["AllowedOrigins"], r["AllowedHeaders"]) for r in configured] == [
        (["POST"], ["*"], ["*"])]


def test_the_devstack_resolves_the_origins_parameter() -> None:
    from zapgate_devstack.emulator import _s3_cors

    cors = {"CorsRules": [{"AllowedMethods": ["POST"], "AllowedOrigins": {"Ref": "Origins"},
                           "AllowedHeaders": ["*"], "MaxAge": 3600}]}
    assert _s3_cors(cors, {"Origins": "https://a.example, https://b.example"}) == {"CORSRules": [{
        "AllowedMethods": ["POST"], "AllowedOrigins": ["https://a.example", "https://b.example"],
        "AllowedHeaders": ["*"], "MaxAgeSeconds": 3600}]}
