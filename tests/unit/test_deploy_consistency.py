"""Terraform and the code describe the same system, offline.

`terraform fmt -check`, checkov with no failed check, and a consistency check that reads the .tf files
with python-hcl2 and compares them with shared/manifest.py (itself derived from functions/main.py,
shared.chain.graph and Settings): every entry point deployed and nothing else; every queue the code
enqueues to exists and targets the right function; every secret exists and is granted to exactly the
functions that read it; every scheduled function has a scheduler job; the public set is the intended one.
The checker is a plain function, so tests also run it on altered copies of either side to show it notices.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import pytest

from infra import package
from shared.chain import graph
from shared.config import STEPS, Settings
from shared.manifest import (
    DISPATCH_DEADLINE_S,
    FIRESTORE_INDEXES,
    INTENDED_PUBLIC,
    LEASE_S,
    MEDIA_ARTEFACT_PREFIX,
    TRAITS,
    TTL_COLLECTIONS,
    TTL_FIELD,
    Manifest,
    Traits,
    build_manifest,
    entry_point_names,
    main_module_path,
    manifest,
    secret_env_var,
    secret_id,
)

ROOT = Path(__file__).resolve().parents[2]
TF_DIR = ROOT / "terraform"
MODULE_DIR = TF_DIR / "modules" / "http_function"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"

# Settings every function must receive from Terraform (the rest have working defaults).
REQUIRED_ENV = frozenset(
    {
        "YTEMPIRE_PROJECT_ID",
        "YTEMPIRE_REGION",
        "YTEMPIRE_MEDIA_BUCKET",
        "YTEMPIRE_FUNCTIONS_BASE_URL",
        "YTEMPIRE_QUEUE_PREFIX",
        "YTEMPIRE_TASKS_INVOKER_SERVICE_ACCOUNT",
        "YTEMPIRE_TASK_MAX_ATTEMPTS",
        "YTEMPIRE_TOKEN_SECRET_PREFIX",
    }
)
MAX_DISPATCH_DEADLINE_S = 1800  # Cloud Tasks: HTTP tasks get 15 s to 30 min
MIN_DISPATCH_DEADLINE_S = 15


# --- Reading Terraform --------------------------------------------------------------------------------
@dataclass
class Terraform:
    """One directory of .tf files, merged: locals by name, resources by (type, name), modules by name."""

    locals: dict[str, Any] = field(default_factory=dict)
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    text: str = ""  # the raw source, for checks on names used anywhere


def load_terraform(directory: Path) -> Terraform:
    tf = Terraform()
    for path in sorted(directory.glob("*.tf")):
        text = path.read_text()
        tf.text += text
        parsed = hcl2.loads(text)
        for block in parsed.get("locals", []):
            tf.locals.update(block)
        for block in parsed.get("resource", []):
            for rtype, named in block.items():
                for rname, body in named.items():
                    tf.resources[(rtype, rname)] = body
        for block in parsed.get("module", []):
            tf.modules.update(block)
    return tf


def _one(body: dict[str, Any], key: str) -> dict[str, Any]:
    """A nested block (hcl2 gives each block as a list of one dict)."""
    value = body.get(key) or [{}]
    return value[0] if isinstance(value, list) else value


def _refs(expr: Any, *needles: str) -> bool:
    text = json.dumps(expr)
    return all(n in text for n in needles)


def retry_window_s(
    min_backoff_s: float, max_backoff_s: float, max_doublings: int, max_attempts: int
) -> float:
    """Seconds from a task's first failure to its last attempt, under Cloud Tasks' retry schedule: the
    interval starts at min_backoff, doubles max_doublings times, then grows linearly, up to max_backoff."""
    total = 0.0
    for retry in range(max_attempts - 1):
        if retry <= max_doublings:
            interval = min_backoff_s * 2**retry
        else:
            interval = min_backoff_s * 2**max_doublings * (retry - max_doublings + 1)
        total += min(interval, max_backoff_s)
    return total


# --- The checker --------------------------------------------------------------------------------------
def consistency_problems(m: Manifest, tf: Terraform, module: Terraform) -> list[str]:
    """Every way Terraform (tf, and the http_function module) and the code (m) disagree, as sentences."""
    problems: list[str] = []
    problems += _function_problems(m, tf, module)
    problems += _queue_problems(m, tf)
    problems += _secret_problems(m, tf, module)
    problems += _schedule_problems(m, tf)
    problems += _public_problems(m, tf, module)
    problems += _env_problems(tf)
    problems += _firestore_problems(tf)
    return problems


def _function_problems(m: Manifest, tf: Terraform, module: Terraform) -> list[str]:
    problems = [
        f"entry point {name} of functions/main.py has no TRAITS in shared/manifest.py "
        "(declare its secrets, storage, public, schedule)"
        for name in m.undeclared
    ]
    problems += [
        f"TRAITS in shared/manifest.py declares {name}, which is not an entry point" for name in m.stale
    ]
    deployed: dict[str, dict[str, Any]] = tf.locals.get("functions", {})
    for name in sorted(set(m.entry_points) - set(deployed)):
        problems.append(
            f"entry point {name} is not deployed: add it to local.functions in terraform/functions.tf"
        )
    for name in sorted(set(deployed) - set(m.entry_points)):
        problems.append(
            f"{name} is deployed (terraform/functions.tf) but is not an entry point of functions/main.py"
        )

    call = tf.modules.get("function", {})
    if call.get("for_each") != "${local.functions}" or call.get("source") != "./modules/http_function":
        problems.append(
            'module "function" must deploy every entry of local.functions with ./modules/http_function'
        )
    if call.get("name") != "${each.key}":
        problems.append('module "function" must name each function after its entry point (name = each.key)')
    # Steps and scheduled functions are called by Cloud Tasks / Cloud Scheduler only: internal ingress.
    if not _refs(call.get("ingress"), "each.value.kind", "step", "scheduled", "ALLOW_INTERNAL_ONLY"):
        problems.append("steps and scheduled functions must have ALLOW_INTERNAL_ONLY ingress")
    fn = module.resources.get(("google_cloudfunctions2_function", "main"), {})
    if _one(fn, "build_config").get("runtime") != "${var.runtime}" or "python311" not in module.text:
        problems.append("functions must run on python311")

    for name in sorted(set(m.entry_points) & set(deployed)):
        ep, f = m.entry_points[name], deployed[name]
        expected = {
            "kind": ep.kind,
            "public": ep.public,
            "firestore": ep.firestore,
            "media": ep.media,
            "youtube_tokens": ep.youtube_tokens,
            "secrets": sorted(ep.secrets),
            "enqueues": sorted(ep.enqueues),
            "schedule": ep.schedule,
        }
        actual = {
            key: sorted(f.get(key) or []) if key in ("secrets", "enqueues") else f.get(key)
            for key in expected
        }
        for key in expected:
            if actual[key] != expected[key]:
                problems.append(
                    f"{name}: {key} is {actual[key]!r} in terraform/functions.tf "
                    f"but {expected[key]!r} in the code"
                )
    return problems


def _queue_problems(m: Manifest, tf: Terraform) -> list[str]:
    problems: list[str] = []
    queues: dict[str, dict[str, Any]] = tf.locals.get("queues", {})
    functions: dict[str, dict[str, Any]] = tf.locals.get("functions", {})
    for step in sorted(set(m.queues) - set(queues)):
        users = sorted(n for n, ep in m.entry_points.items() if step in ep.enqueues)
        problems.append(
            f"step {step} has no queue in terraform/tasks.tf (enqueued by {', '.join(users) or 'nobody'})"
        )
    for step in sorted(set(queues) - set(m.queues)):
        problems.append(f"queue {step} in terraform/tasks.tf is not a step of the chain")
    for step in sorted(m.enqueued_steps - set(m.queues)):
        problems.append(f"the code enqueues to {step}, which is not a step")

    for step in sorted(set(queues) & set(m.queues)):
        q, target = queues[step], m.queues[step]
        if q.get("function") != target:
            problems.append(
                f"queue {step} targets {q.get('function')} but the code runs step {step} in {target}"
            )
            continue
        f = functions.get(target)
        if f is None or f.get("kind") != "step":
            problems.append(f"queue {step} targets {target}, which is not a deployed step function")
            continue
        deadline = q.get("dispatch_deadline_s")
        if deadline != DISPATCH_DEADLINE_S.get(step):
            problems.append(
                f"queue {step}: dispatch_deadline_s {deadline} differs from the code's "
                f"DISPATCH_DEADLINE_S {DISPATCH_DEADLINE_S.get(step)}"
            )
        elif not (MIN_DISPATCH_DEADLINE_S <= deadline <= MAX_DISPATCH_DEADLINE_S):
            problems.append(f"queue {step}: dispatch deadline {deadline}s is outside Cloud Tasks' 15-1800 s")
        elif deadline >= f["timeout_s"]:
            problems.append(
                f"queue {step}: dispatch deadline {deadline}s is not below "
                f"{target}'s timeout {f['timeout_s']}s"
            )
        capacity = f["max_instances"] * f["concurrency"]
        if capacity < q.get("max_concurrent_dispatches", 0):
            problems.append(
                f"queue {step} dispatches {q['max_concurrent_dispatches']} at once but {target} "
                f"serves at most {capacity} (max_instances x concurrency)"
            )

    resource = tf.resources.get(("google_cloud_tasks_queue", "step"))
    if resource is None:
        return [*problems, 'google_cloud_tasks_queue "step" is missing from terraform/tasks.tf']
    # A crashed attempt holds its step's lease; the task's later retries must outlast it.
    doublings = _one(resource, "retry_config").get("max_doublings", 16)
    for step, q in sorted(queues.items()):
        window = retry_window_s(q["min_backoff_s"], q["max_backoff_s"], doublings, m.task_max_attempts)
        if window <= LEASE_S[step]:
            problems.append(
                f"queue {step}: its retries span {window:g} s, not more than the step's lease "
                f"({LEASE_S[step]} s): a crashed attempt would leave the job stuck"
            )
    if resource.get("for_each") != "${local.queues}":
        problems.append('google_cloud_tasks_queue "step" must have one queue per entry of local.queues')
    # The code names queues with shared.chain.graph.queue_id(prefix, step); Terraform must build the same.
    expected_name = graph.queue_id("${var.queue_prefix}", "${each.key}")
    if resource.get("name") != expected_name:
        problems.append(
            f"queue name is {resource.get('name')!r}; the code's queue_id gives {expected_name!r}"
        )
    target = _one(resource, "http_target")
    override, oidc = _one(target, "uri_override"), _one(target, "oidc_token")
    if (
        not _refs(override.get("host"), "module.function[each.value.function]")
        or override.get("uri_override_enforce_mode") != "ALWAYS"
    ):
        problems.append("each queue must route every task to its own function (uri_override, ALWAYS)")
    if not _refs(oidc.get("service_account_email"), "google_service_account.tasks_invoker"):
        problems.append("queues must sign tasks with the tasks invoker's OIDC token")
    if _one(resource, "retry_config").get("max_attempts") != "${local.task_max_attempts}":
        problems.append("queue retry_config.max_attempts must be local.task_max_attempts")
    if tf.locals.get("task_max_attempts") != m.task_max_attempts:
        problems.append(
            f"local.task_max_attempts is {tf.locals.get('task_max_attempts')} but Settings.task_max_attempts "
            f"defaults to {m.task_max_attempts}"
        )

    # Cloud Tasks may invoke exactly the functions its queues target.
    invoker = tf.resources.get(("google_cloud_run_v2_service_iam_member", "tasks_invoker"), {})
    if invoker.get("for_each") != "${local.queue_targets}" or not _refs(
        tf.locals.get("queue_targets"), "local.queues", "q.function"
    ):
        problems.append("the tasks invoker must get run.invoker on exactly the queues' target functions")
    # Creating a task in a queue: exactly the queues each function's entry lists.
    enqueuer = tf.resources.get(("google_cloud_tasks_queue_iam_member", "enqueuer"), {})
    if (
        enqueuer.get("role") != "roles/cloudtasks.enqueuer"
        or enqueuer.get("for_each") != "${local.enqueue_grants}"
        or not _refs(tf.locals.get("enqueue_grants"), "local.functions", "f.enqueues")
    ):
        problems.append("each function must get cloudtasks.enqueuer on exactly the queues it enqueues to")
    return problems


def _secret_problems(m: Manifest, tf: Terraform, module: Terraform) -> list[str]:
    problems: list[str] = []
    declared: dict[str, str] = tf.locals.get("secrets", {})
    for name in sorted(m.secrets - set(declared)):
        problems.append(f"Settings.{name} is a secret with no Secret Manager secret in terraform/secrets.tf")
    for name in sorted(set(declared) - m.secrets):
        problems.append(f"secret {name} in terraform/secrets.tf is not a SecretStr field of Settings")
    readers = {s for ep in m.entry_points.values() for s in ep.secrets}
    for name in sorted(m.secrets - readers):
        problems.append(f"Settings.{name} is a secret no entry point reads: declare its readers in TRAITS")
    for name in sorted(readers - m.secrets):
        problems.append(f"TRAITS lists {name} as a secret, but it is not a SecretStr field of Settings")
    for fname, f in sorted(tf.locals.get("functions", {}).items()):
        for s in sorted(set(f.get("secrets") or []) - set(declared)):
            problems.append(f"{fname} reads secret {s}, which terraform/secrets.tf does not create")

    secret = tf.resources.get(("google_secret_manager_secret", "settings"), {})
    if secret.get("for_each") != "${local.secrets}" or not _refs(
        secret.get("secret_id"), "replace(each.key", "_", "-"
    ):
        problems.append(
            'google_secret_manager_secret "settings" must create secret_id(field) for each local.secrets'
        )
    if secret_id("openai_api_key") != "openai-api-key":
        problems.append('shared.manifest.secret_id no longer matches replace(field, "_", "-") in secrets.tf')

    # A function gets a secret as YTEMPIRE_<FIELD> and secretAccessor on it, from the same map.
    call = tf.modules.get("function", {})
    if not _refs(
        call.get("secret_env"),
        "each.value.secrets",
        "YTEMPIRE_",
        "upper(field)",
        "google_secret_manager_secret.settings",
    ):
        problems.append(
            'module "function" must pass secret_env = {YTEMPIRE_<FIELD> = secret} from each.value.secrets'
        )
    if secret_env_var("openai_api_key") != "YTEMPIRE_OPENAI_API_KEY":
        problems.append("Settings env prefix changed: secret environment variables no longer match")
    grant = module.resources.get(("google_secret_manager_secret_iam_member", "secret_env"), {})
    fn = module.resources.get(("google_cloudfunctions2_function", "main"), {})
    env_refs = [
        d for d in _one(fn, "service_config").get("dynamic", []) if "secret_environment_variables" in d
    ]
    if (
        grant.get("for_each") != "${var.secret_env}"
        or grant.get("role") != "roles/secretmanager.secretAccessor"
    ):
        problems.append("the http_function module must grant secretAccessor on exactly var.secret_env")
    if not env_refs or env_refs[0]["secret_environment_variables"].get("for_each") != "${var.secret_env}":
        problems.append(
            "the http_function module must reference exactly var.secret_env as secret environment variables"
        )

    # No other way to read secrets: the only project-level secret roles are the token ones, conditioned
    # on the token-secret prefix, for the functions marked youtube_tokens.
    for (rtype, rname), body in sorted(tf.resources.items()):
        role = str(body.get("role", ""))
        if rtype.startswith("google_secret_manager_secret_iam"):
            problems.append(f"{rtype}.{rname} grants a secret outside the functions' declared secrets")
        elif "secretmanager" in role:
            condition = _one(body, "condition").get("expression")
            if (
                rtype != "google_project_iam_member"
                or condition != "${local.youtube_token_condition}"
                or (body.get("for_each") != "${local.youtube_token_users}")
            ):
                problems.append(
                    f"{rtype}.{rname} grants {role} beyond the YouTube token secrets of token users"
                )
    if not _refs(tf.locals.get("youtube_token_users"), "f.youtube_tokens"):
        problems.append("local.youtube_token_users must be the functions marked youtube_tokens")
    if not _refs(
        tf.locals.get("youtube_token_condition"), "startsWith", "/secrets/", "local.token_secret_prefix"
    ):
        problems.append("token secret grants must be conditioned on the token secret name prefix")
    if tf.locals.get("token_secret_prefix") != m.token_secret_prefix:
        problems.append(
            f"local.token_secret_prefix is {tf.locals.get('token_secret_prefix')!r} but "
            f"Settings.token_secret_prefix defaults to {m.token_secret_prefix!r}"
        )
    return problems


def _schedule_problems(m: Manifest, tf: Terraform) -> list[str]:
    problems: list[str] = []
    for name, ep in sorted(m.entry_points.items()):
        if ep.kind == "scheduled" and len(str(ep.schedule).split()) != 5:
            problems.append(f"{name}: schedule {ep.schedule!r} is not a five-field cron expression")
    job = tf.resources.get(("google_cloud_scheduler_job", "function"))
    if job is None:
        return [*problems, 'google_cloud_scheduler_job "function" is missing from terraform/scheduler.tf']
    if not _refs(job.get("for_each"), "local.functions", 'f.kind == \\"scheduled\\"'):
        problems.append("there must be a scheduler job for every scheduled function of local.functions")
    if job.get("schedule") != "${each.value.schedule}":
        problems.append("scheduler jobs must run on each function's own schedule")
    target = _one(job, "http_target")
    if not _refs(target.get("uri"), "module.function[each.key]") or not _refs(
        _one(target, "oidc_token").get("service_account_email"), "google_service_account.scheduler_invoker"
    ):
        problems.append("scheduler jobs must call their own function with the scheduler invoker's OIDC token")
    invoker = tf.resources.get(("google_cloud_run_v2_service_iam_member", "scheduler_invoker"), {})
    if invoker.get("for_each") != "${local.scheduled_functions}" or not _refs(
        tf.locals.get("scheduled_functions"), 'f.kind == \\"scheduled\\"'
    ):
        problems.append("the scheduler invoker must get run.invoker on exactly the scheduled functions")
    return problems


def _public_problems(m: Manifest, tf: Terraform, module: Terraform) -> list[str]:
    problems: list[str] = []
    public_code = {n for n, ep in m.entry_points.items() if ep.public}
    public_tf = {n for n, f in tf.locals.get("functions", {}).items() if f.get("public")}
    for name in sorted(public_code - INTENDED_PUBLIC):
        problems.append(f"{name} is declared public, but only {sorted(INTENDED_PUBLIC)} may ever be")
    for name in sorted(public_tf - public_code):
        problems.append(f"{name} is public in terraform/functions.tf but not in the code")
    if tf.modules.get("function", {}).get("public") != "${each.value.public}":
        problems.append('module "function" must take public from each.value.public')
    # allUsers appears once: the module's binding guarded by var.public. Private APIs use named members.
    if re.search(
        r"allUsers|allAuthenticatedUsers", json.dumps([tf.locals, tf.modules, list(tf.resources.values())])
    ):
        problems.append(
            "terraform/*.tf grants allUsers/allAuthenticatedUsers outside the http_function module"
        )
    public = module.resources.get(("google_cloud_run_v2_service_iam_member", "public"), {})
    if public.get("count") != "${var.public ? 1 : 0}" or module.text.count('"allUsers"') != 1:
        problems.append("the http_function module must grant allUsers only when var.public")
    if not _refs(tf.locals.get("api_invoker_grants"), "!f.public", 'f.kind == \\"http\\"'):
        problems.append("named API invokers must only be granted on private HTTP functions")
    return problems


def _env_problems(tf: Terraform) -> list[str]:
    problems: list[str] = []
    fields = set(Settings.model_fields)
    for var in sorted(set(re.findall(r"\bYTEMPIRE_([A-Z0-9][A-Z0-9_]*)\b", tf.text))):
        if var.lower() not in fields:
            problems.append(f"Terraform sets YTEMPIRE_{var}, which is not a field of Settings")
    common = tf.locals.get("common_env", {})
    for var in sorted(REQUIRED_ENV - set(common)):
        problems.append(f"local.common_env lacks {var}")
    secrets = {secret_env_var(s) for s in tf.locals.get("secrets", {})}
    for var in sorted(secrets & set(common)):
        problems.append(f"{var} is a secret but is set as a plain environment variable")
    if common.get("YTEMPIRE_TASK_MAX_ATTEMPTS") != "${tostring(local.task_max_attempts)}":
        problems.append(
            "YTEMPIRE_TASK_MAX_ATTEMPTS must come from local.task_max_attempts (the queues' max_attempts)"
        )
    if common.get("YTEMPIRE_TOKEN_SECRET_PREFIX") != "${local.token_secret_prefix}":
        problems.append(
            "YTEMPIRE_TOKEN_SECRET_PREFIX must come from local.token_secret_prefix (the IAM condition's)"
        )
    if not _refs(tf.modules.get("function", {}).get("env"), "local.common_env"):
        problems.append('module "function" must pass local.common_env to every function')
    return problems


def _firestore_problems(tf: Terraform) -> list[str]:
    problems: list[str] = []
    indexes = {
        (i["collection"], tuple((f["field_path"], f["order"]) for f in i["fields"]))
        for i in tf.locals.get("firestore_indexes", {}).values()
    }
    for collection, fields in sorted(set(FIRESTORE_INDEXES) - indexes):
        problems.append(f"Firestore index {collection} {fields} is missing from terraform/firestore.tf")
    for collection, fields in sorted(indexes - set(FIRESTORE_INDEXES)):
        problems.append(
            f"Firestore index {collection} {fields} is not one shared.manifest.FIRESTORE_INDEXES needs"
        )
    ttl = set(tf.locals.get("firestore_ttl_collections", []))
    if ttl != set(TTL_COLLECTIONS):
        problems.append(
            f"TTL collections are {sorted(ttl)} in Terraform but {sorted(TTL_COLLECTIONS)} in the code"
        )
    field_resource = tf.resources.get(("google_firestore_field", "ttl"), {})
    if field_resource.get("field") != TTL_FIELD or "ttl_config" not in field_resource:
        problems.append(f"TTL policies must be on the field {TTL_FIELD}")
    return problems


# --- Fixtures -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tf() -> Terraform:
    return load_terraform(TF_DIR)


@pytest.fixture(scope="module")
def module() -> Terraform:
    return load_terraform(MODULE_DIR)


def _with_function(tf: Terraform, name: str, **changes: Any) -> Terraform:
    altered = copy.deepcopy(tf)
    base = copy.deepcopy(altered.locals["functions"].get(name) or altered.locals["functions"]["job_status"])
    altered.locals["functions"][name] = {**base, **changes}
    return altered


# --- The real tree ------------------------------------------------------------------------------------
def test_terraform_matches_the_code(tf: Terraform, module: Terraform) -> None:
    assert consistency_problems(manifest(), tf, module) == []


def test_manifest_is_derived_from_the_code() -> None:
    m = manifest()
    names = entry_point_names(main_module_path().read_text())
    assert set(m.entry_points) == set(names) and m.undeclared == ()
    assert {"video_request", "job_status"} <= set(m.entry_points)
    for step in STEPS:
        ep = m.entry_points[graph.entry_point(step)]
        assert ep.kind == "step" and ep.consumes == step
        assert set(graph.SUCCESSORS[step]) | {step} <= ep.enqueues
    assert m.entry_points["video_request"].enqueues == {graph.FIRST_STEP}
    assert m.entry_points["step_quality"].enqueues >= {graph.FIRST_STEP}  # regeneration
    assert {"openai_api_key", "pexels_api_key", "youtube_client_secret"} <= m.secrets
    assert set(DISPATCH_DEADLINE_S) == set(STEPS)


def test_entry_points_are_the_functions_framework_decorated_functions() -> None:
    source = (
        "import functions_framework\n"
        "@functions_framework.http\ndef a(request): ...\n"
        "@functions_framework.cloud_event\ndef b(event): ...\n"
        "@functions_framework.http()\ndef c(request): ...\n"
        "def _helper(): ...\n"
        "@other.http\ndef d(request): ...\n"
    )
    assert entry_point_names(source) == ("a", "b", "c")


# --- The checker notices one-sided changes ------------------------------------------------------------
def test_function_added_to_the_code_only_is_detected(tf: Terraform, module: Terraform) -> None:
    names = (*manifest().entry_points, "health_check")
    traits = {**TRAITS, "health_check": Traits(schedule="*/5 * * * *", youtube_tokens=True)}
    problems = consistency_problems(build_manifest(names, traits), tf, module)
    assert any("health_check is not deployed" in p for p in problems), problems


def test_function_added_to_terraform_only_is_detected(tf: Terraform, module: Terraform) -> None:
    problems = consistency_problems(manifest(), _with_function(tf, "metrics"), module)
    assert any("metrics is deployed" in p and "not an entry point" in p for p in problems), problems


def test_entry_point_without_traits_is_detected(tf: Terraform, module: Terraform) -> None:
    names = (*manifest().entry_points, "metrics")
    problems = consistency_problems(build_manifest(names), _with_function(tf, "metrics"), module)
    assert any("metrics of functions/main.py has no TRAITS" in p for p in problems), problems


def test_both_sides_updated_together_pass(tf: Terraform, module: Terraform) -> None:
    names = (*manifest().entry_points, "health_check")
    traits = {
        **TRAITS,
        "health_check": Traits(
            schedule="*/5 * * * *", youtube_tokens=True, secrets=("youtube_client_secret",)
        ),
    }
    altered = _with_function(
        tf,
        "health_check",
        kind="scheduled",
        schedule="*/5 * * * *",
        youtube_tokens=True,
        secrets=["youtube_client_secret"],
        firestore="write",
    )
    assert consistency_problems(build_manifest(names, traits), altered, module) == []


def test_queue_missing_or_mistargeted_is_detected(tf: Terraform, module: Terraform) -> None:
    missing = copy.deepcopy(tf)
    del missing.locals["queues"]["upload"]
    problems = consistency_problems(manifest(), missing, module)
    assert any("step upload has no queue" in p and "step_quality" in p for p in problems), problems

    wrong = copy.deepcopy(tf)
    wrong.locals["queues"]["render"]["function"] = "step_quality"
    problems = consistency_problems(manifest(), wrong, module)
    assert any("queue render targets step_quality" in p for p in problems), problems

    renamed = copy.deepcopy(tf)
    renamed.resources[("google_cloud_tasks_queue", "step")]["name"] = "${each.key}"
    assert any("queue_id gives" in p for p in consistency_problems(manifest(), renamed, module))


def test_code_enqueueing_to_a_new_step_is_detected(tf: Terraform, module: Terraform) -> None:
    traits = {**TRAITS, "video_request": Traits(enqueues=(graph.FIRST_STEP, "translate"))}
    problems = consistency_problems(build_manifest(traits=traits), tf, module)
    assert any("enqueues to translate" in p for p in problems), problems
    assert any("video_request: enqueues" in p for p in problems), problems


def test_retry_window_follows_cloud_tasks_schedule() -> None:
    # Cloud Tasks' own example: min 10 s, max 300 s, 3 doublings -> 10, 20, 40, 80, 160, 240, 300, 300.
    assert retry_window_s(10, 300, 3, 9) == 10 + 20 + 40 + 80 + 160 + 240 + 300 + 300
    assert retry_window_s(64, 600, 4, 5) == 64 + 128 + 256 + 512


def test_retries_shorter_than_the_lease_are_detected(tf: Terraform, module: Terraform) -> None:
    hasty = copy.deepcopy(tf)
    hasty.locals["queues"]["voice"]["min_backoff_s"] = 5
    problems = consistency_problems(manifest(), hasty, module)
    assert any("queue voice: its retries span 75 s" in p for p in problems), problems


def test_deadline_and_capacity_are_checked(tf: Terraform, module: Terraform) -> None:
    slow = copy.deepcopy(tf)
    slow.locals["functions"]["step_render"]["timeout_s"] = DISPATCH_DEADLINE_S["render"]
    assert any("not below step_render's timeout" in p for p in consistency_problems(manifest(), slow, module))

    narrow = copy.deepcopy(tf)
    narrow.locals["functions"]["step_upload"]["max_instances"] = 1
    assert any("step_upload serves at most 1" in p for p in consistency_problems(manifest(), narrow, module))

    attempts = copy.deepcopy(tf)
    attempts.locals["task_max_attempts"] = 3
    assert any("Settings.task_max_attempts" in p for p in consistency_problems(manifest(), attempts, module))


def test_secret_granted_to_a_function_that_does_not_read_it_is_detected(
    tf: Terraform, module: Terraform
) -> None:
    altered = _with_function(tf, "step_voice", secrets=["openai_api_key"])
    problems = consistency_problems(manifest(), altered, module)
    assert any("step_voice: secrets" in p for p in problems), problems


def test_new_settings_secret_without_terraform_is_detected(tf: Terraform, module: Terraform) -> None:
    m = dataclasses.replace(manifest(), secrets=manifest().secrets | {"sendgrid_api_key"})
    problems = consistency_problems(m, tf, module)
    assert any("Settings.sendgrid_api_key is a secret with no Secret Manager secret" in p for p in problems)
    assert any("Settings.sendgrid_api_key is a secret no entry point reads" in p for p in problems)


def test_unconditional_secret_grant_is_detected(tf: Terraform, module: Terraform) -> None:
    altered = copy.deepcopy(tf)
    altered.resources[("google_project_iam_member", "everything")] = {
        "for_each": "${local.functions}",
        "role": "roles/secretmanager.secretAccessor",
    }
    problems = consistency_problems(manifest(), altered, module)
    assert any("google_project_iam_member.everything" in p for p in problems), problems


def test_public_set_is_checked(tf: Terraform, module: Terraform) -> None:
    altered = _with_function(tf, "video_request", public=True)
    problems = consistency_problems(manifest(), altered, module)
    assert any("video_request is public in terraform" in p for p in problems), problems

    traits = {**TRAITS, "job_status": Traits(firestore="read", public=True)}
    problems = consistency_problems(
        build_manifest(traits=traits), _with_function(tf, "job_status", public=True), module
    )
    assert any("job_status is declared public, but only" in p for p in problems), problems


def test_scheduled_function_schedule_is_checked(tf: Terraform, module: Terraform) -> None:
    names = (*manifest().entry_points, "health_check")
    traits = {**TRAITS, "health_check": Traits(schedule="0 9 * * *")}
    altered = _with_function(tf, "health_check", kind="scheduled", schedule="0 10 * * *")
    problems = consistency_problems(build_manifest(names, traits), altered, module)
    assert any("health_check: schedule" in p for p in problems), problems

    unscheduled = copy.deepcopy(altered)
    del unscheduled.resources[("google_cloud_scheduler_job", "function")]
    assert any(
        "scheduler.tf" in p for p in consistency_problems(build_manifest(names, traits), unscheduled, module)
    )


def test_unknown_setting_in_terraform_is_detected(tf: Terraform, module: Terraform) -> None:
    altered = copy.deepcopy(tf)
    altered.text += '\nYTEMPIRE_MEDIA_BUKET = "typo"\n'
    problems = consistency_problems(manifest(), altered, module)
    assert any("YTEMPIRE_MEDIA_BUKET" in p for p in problems), problems


def test_firestore_indexes_and_ttl_are_checked(tf: Terraform, module: Terraform) -> None:
    altered = copy.deepcopy(tf)
    del altered.locals["firestore_indexes"]["jobs_by_status"]
    altered.locals["firestore_ttl_collections"] = ["cache"]
    problems = consistency_problems(manifest(), altered, module)
    assert any("Firestore index jobs" in p and "missing" in p for p in problems), problems
    assert any("TTL collections" in p for p in problems), problems


def test_job_media_expire(tf: Terraform) -> None:
    from shared.steps import artefact_path

    rules = tf.resources[("google_storage_bucket", "media")]["lifecycle_rule"]
    prefixes = [p for r in rules for p in _one(r, "condition").get("matches_prefix", [])]
    assert prefixes == [MEDIA_ARTEFACT_PREFIX]
    assert artefact_path({"job_id": "j1", "generation": 1}, "video.mp4").startswith(MEDIA_ARTEFACT_PREFIX)


def test_source_object_is_named_like_the_package(tf: Terraform) -> None:
    name = tf.resources[("google_storage_bucket_object", "source")]["name"]
    parts = re.fullmatch(r"(.*)\$\{substr\(filesha256\(var\.source_archive_path\), 0, (\d+)\)\}(\.zip)", name)
    assert parts, name
    sha = "0123456789abcdef" * 4
    assert package.archive_name(sha) == f"{parts[1]}{sha[: int(parts[2])]}{parts[3]}"


# --- Tools --------------------------------------------------------------------------------------------
def test_terraform_fmt() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("the terraform binary is not installed")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TF_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}{result.stderr}"


def test_checkov_finds_no_failed_check() -> None:
    if not CHECKOV.exists():
        pytest.skip(
            f"{CHECKOV} is missing: python3 -m venv .venv-checkov && .venv-checkov/bin/pip install checkov"
        )
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(TF_DIR),
            "--quiet",
            "--compact",
            "--framework",
            "terraform",
            "-o",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c.get('check_name')}"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    summary = [r.get("summary", {}) for r in reports]
    assert failed == [], "\n".join(failed)
    assert all(s.get("parsing_errors", 0) == 0 for s in summary), summary
    assert sum(s.get("passed", 0) for s in summary) > 0, "checkov checked nothing"
