# Lambda bundles for `sam build` (template.yaml: every function has Metadata BuildMethod: makefile).
#
# SAM runs `make build-<LogicalId>` in a copy of the checkout with ARTIFACTS_DIR set to that
# function's build directory. Every function ships the same code and nothing else: the selfheal
# package and the Lambda handler modules. Third-party packages come from DependenciesLayer
# (layers/dependencies/requirements.txt); the state machine definition is deployed by the template
# (DefinitionUri) and is not read at runtime. So a .venv, tests/, bench/, docs/ or .tools/ in the
# checkout never reach a function (Lambda's 250 MB limit, cold starts).

LAMBDA_SOURCES := selfheal functions

# One recipe for every function: build-IngestFunction, build-DispatchFunction, ...
build-%Function:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 2; }
	mkdir -p "$(ARTIFACTS_DIR)"
	cp -R $(LAMBDA_SOURCES) "$(ARTIFACTS_DIR)/"
	find $(addprefix "$(ARTIFACTS_DIR)"/,$(LAMBDA_SOURCES)) -depth \( -name __pycache__ -o -name "*.pyc" \) \
		-exec rm -rf {} +
