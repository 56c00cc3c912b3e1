"""ValidatePatch with the service's own dependencies: ``ValidatePatchPackage=Image`` deploys a
container-image ValidatePatch (built from ``functions/validate_image/Dockerfile``) instead of the
zip one. Both variants translate and lint clean; in each, exactly one ValidatePatch function
exists and the workflow calls it; the image's environment, permissions and handler are the zip
function's; the Dockerfile copies files that exist."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support.deploy_sam import REPO, lint, load_template, translate

VARIANTS = {"Zip": "ValidatePatchFunction", "Image": "ValidatePatchImageFunction"}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template()


def _holds(condition: str | None, package: str) -> bool:
    values = {"ValidatePatchIsImage": package == "Image", "ValidatePatchIsZip": package == "Zip"}
    return True if condition is None else values.get(condition, True)


@pytest.mark.parametrize("package", sorted(VARIANTS))
def test_each_variant_lints_clean_and_the_workflow_calls_its_function(sam: dict[str, Any],
                                                                      package: str) -> None:
    cfn = translate(sam, {"LogGroupName": "/aws/lambda/orders", "ValidatePatchPackage": package})
    assert lint(json.dumps(cfn)) == []
    functions = [name for name, r in cfn["Resources"].items() if r["Type"] == "AWS::Lambda::Function"
                 and "ValidatePatch" in name and _holds(r.get("Condition"), package)]
    assert functions == [VARIANTS[package]]
    machine = cfn["Resources"]["FixStateMachine"]["Properties"]
    chosen = machine["DefinitionSubstitutions"]["ValidatePatchFunctionArn"]["Fn::If"]
    assert chosen[0] == "ValidatePatchIsImage"
    assert chosen[1 if package == "Image" else 2] == {"Fn::GetAtt": [VARIANTS[package], "Arn"]}


def test_the_image_function_is_the_zip_function_in_an_image(sam: dict[str, Any]) -> None:
    res = sam["Resources"]
    image = res["ValidatePatchImageFunction"]["Properties"]
    zipped = res["ValidatePatchFunction"]["Properties"]
    assert sam["Parameters"]["ValidatePatchPackage"]["AllowedValues"] == ["Zip", "Image"]
    assert sam["Parameters"]["ValidatePatchPackage"]["Default"] == "Zip"
    assert image["PackageType"] == "Image"
    assert image["ImageConfig"]["Command"] == [zipped["Handler"]]
    for key in ("MemorySize", "Timeout", "EphemeralStorage"):
        assert image[key] == zipped[key], key
    assert image["Architectures"] == sam["Globals"]["Function"]["Architectures"]
    assert image["Environment"]["Variables"] == sam["Globals"]["Function"]["Environment"]["Variables"]
    role = res["ValidatePatchImageRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert role == zipped["Policies"][0]["Statement"]  # least privilege changes apply to both


def test_the_dockerfile_builds_from_files_that_exist_and_runs_the_handler() -> None:
    text = (REPO / "functions" / "validate_image" / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM public\.ecr\.aws/lambda/python:3\.12-arm64$", text, re.M)
    default_service = re.search(r"^ARG SERVICE_REQUIREMENTS=(\S+)$", text, re.M)
    assert default_service is not None and (REPO / default_service.group(1)).is_file()
    for source in re.findall(r"^COPY (\S+) ", text, re.M):
        if not source.startswith("${"):
            assert (REPO / source).exists(), source
    assert 'CMD ["functions.validate_patch.handler"]' in text
    ignore = (REPO / ".dockerignore").read_text(encoding="utf-8")
    for kept in ("selfheal/", "functions/", "layers/dependencies/requirements.txt", default_service.group(1)):
        assert f"!{kept}" in ignore, kept
