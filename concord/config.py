"""Typed models of concord.yaml: sources, rules, the store and the dashboard's base URL.

The kernel validates what every rule shares (name, kind, severity, grace, schedule, trace); each
rule kind validates its own settings with its own model (see checks/kinds), so adding a kind
never touches this file.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from concord.durations import parse_duration
from concord.errors import ConfigError, Problem
from concord.yamlfile import LocatedDocument, PathKey, load_yaml

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
DEFAULT_CONFIG = "concord.yaml"


def as_column_list(value: Any) -> Any:
    """`key: id` and `key: [order_id, line_no]` both mean a list of columns."""
    return [value] if isinstance(value, str) else value


ColumnList = Annotated[list[str], BeforeValidator(as_column_list), Field(min_length=1)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SourceConfig(StrictModel):
    url: str
    timezone: str = "UTC"
    mask: list[str] = Field(default_factory=list)
    statement_timeout: Duration = timedelta(seconds=30)
    batch_size: int = Field(1000, ge=1, le=100_000)
    pool_size: int = Field(2, ge=1, le=20)
    max_concurrent_queries: int = Field(2, ge=1, le=20)
    rows_per_second: int | None = Field(None, ge=1)  # a cap on rows read per second, None for none
    backoff: Duration = timedelta(seconds=30)  # first wait after a failure; doubles, up to backoff_max
    backoff_max: Duration = timedelta(minutes=15)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"'{value}' is not a time zone; use an IANA name such as 'UTC' or "
                             "'Asia/Shanghai'") from exc
        return value

    @field_validator("url")
    @classmethod
    def _url_has_driver(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("this is not a SQLAlchemy URL; write e.g. 'sqlite:///shop.db', "
                             "'mysql+pymysql://user:${PASSWORD}@host/db' or 'postgresql+psycopg://user@host/db'")
        return value


class TraceConfig(StrictModel):
    """How a rule's violations find their trace, and which spans explain them."""

    column: str | None = None  # driver column holding a trace id or a W3C traceparent
    attribute: str | None = None  # span attribute holding the business key (looked up in the key index)
    key_column: str | None = None  # which key column the attribute carries (default: the first)
    service: str | None = None  # service to search in a remote backend (Jaeger needs one)
    expect_spans: list[str] = Field(default_factory=list)  # spans a healthy transaction has
    steps: list[str] = Field(default_factory=list)  # spans whose failure explains this rule


class ReceiverConfig(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(4318, ge=0, le=65535)
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    max_concurrent_writes: int = Field(2, ge=1, le=64)
    queue_timeout: Duration = timedelta(seconds=2)


class TraceBackendConfig(StrictModel):
    kind: Literal["jaeger", "tempo"]
    url: str
    api: Literal["v1", "v2", "v3"] | None = None  # Jaeger: v1 (by id only) or v3; Tempo: v1 or v2
    link_template: str | None = None  # e.g. "https://jaeger.example/trace/{trace_id}"
    timeout: Duration = timedelta(seconds=10)
    search_window: Duration = timedelta(hours=1)


class TracesConfig(StrictModel):
    receiver: ReceiverConfig = Field(default_factory=ReceiverConfig)
    files: list[str] = Field(default_factory=list)  # OTLP JSON lines, as the Collector's file exporter writes
    index_attributes: list[str] = Field(default_factory=list)  # business keys indexed to trace ids
    mask_attributes: list[str] = Field(default_factory=list)
    retention: Duration = timedelta(days=7)
    backend: TraceBackendConfig | None = None


class SampleConfig(StrictModel):
    """Judge a random sample of a window instead of every row: `size` rows, or `rate` of the window's rows."""

    size: int | None = Field(None, ge=1, le=1_000_000)
    rate: float | None = Field(None, gt=0, le=1)
    window: Duration = timedelta(days=1)
    seed: int = 0

    @field_validator("rate")
    @classmethod
    def _one_of(cls, rate: float | None, info: Any) -> float | None:
        if rate is not None and info.data.get("size") is not None:
            raise ValueError("give either 'size' or 'rate', not both")
        return rate


class RuleConfig(BaseModel):
    """What every rule has; the kind's own settings stay in `params` for the kind to validate."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")
    kind: str
    severity: Severity = "medium"
    grace: Duration = timedelta(0)
    overlap: Duration = timedelta(minutes=10)
    every: Duration = timedelta(minutes=1)
    description: str | None = None
    owner: str | None = None
    runbook: str | None = None
    trace: TraceConfig | None = None
    sample: SampleConfig | None = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class AuthConfig(StrictModel):
    """Sign-in through Streamlit's OIDC (`st.login`); roles come from the signed-in e-mail address."""

    provider: str | None = None  # a provider name under [auth] in .streamlit/secrets.toml, or the default
    operators: list[str] = Field(default_factory=list)  # may acknowledge, resolve and mute
    viewers: list[str] = Field(default_factory=lambda: ["*"])  # may read and export; "*" is anyone signed in


class DashboardConfig(StrictModel):
    refresh: Duration = timedelta(seconds=30)
    page_size: int = Field(50, ge=10, le=500)
    auth: AuthConfig | None = None


class CheckerConfig(StrictModel):
    """Several checkers may share one store: each rule is leased to one of them at a time."""

    lease: Duration = timedelta(minutes=2)  # longer than the slowest run; a dead checker's rules wait this long


AlertEvent = Literal["opened", "reopened", "resolved"]


class ChannelConfig(StrictModel):
    """One place messages go: an apprise URL (Slack, Feishu/Lark, DingTalk, Teams, e-mail, PagerDuty,
    Opsgenie, a JSON webhook…), and which violations it wants to hear about."""

    url: str
    severities: list[Severity] = Field(default_factory=lambda: list(SEVERITY_RANK))
    rules: list[str] = Field(default_factory=list)  # empty: every rule
    on: list[AlertEvent] = Field(default_factory=lambda: ["opened", "reopened"])
    max_per_minute: int = Field(10, ge=1, le=1000)  # more wait for the next minute; none is dropped

    @field_validator("url")
    @classmethod
    def _apprise_knows_it(cls, url: str) -> str:
        from concord.notify_urls import check_apprise_url  # apprise loads its plugins: only when channels exist

        check_apprise_url(url)
        return url


class AlertsConfig(StrictModel):
    """Direct notifications, for teams without Alertmanager. Concord decides what and when; apprise sends."""

    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    group_wait: Duration = timedelta(seconds=30)  # events of one rule within this window make one message
    first_keys: int = Field(5, ge=1, le=50)  # keys named in a message; the rest are counted
    retry: Duration = timedelta(seconds=30)  # first retry of a failed send; doubles each time
    retry_max: Duration = timedelta(minutes=30)
    give_up_after: Duration = timedelta(hours=24)


class RunConfig(StrictModel):
    """`concord run`: where the operational endpoints listen, and how children are supervised."""

    listen: str = Field("127.0.0.1:9464", pattern=r"^[^:\s]*:\d{1,5}$")  # /healthz, /readyz, /metrics
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = Field(8501, ge=0, le=65535)
    restart_backoff_max: Duration = timedelta(seconds=30)
    stop_timeout: Duration = timedelta(seconds=60)  # then children still running are killed


class StoreConfig(StrictModel):
    url: str = "sqlite:///concord.db"


class Config(StrictModel):
    dashboard_url: str = "http://localhost:8501"
    store: StoreConfig = Field(default_factory=StoreConfig)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    checker: CheckerConfig = Field(default_factory=CheckerConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    traces: TracesConfig = Field(default_factory=TracesConfig)
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    rules: list[RuleConfig] = Field(default_factory=list)

    # Where the file lives: relative paths (SQLite files, statement CSVs) are resolved from here.
    base_dir: Path = Field(default=Path("."), exclude=True)

    def rule(self, name: str) -> RuleConfig:
        for rule in self.rules:
            if rule.name == name:
                return rule
        known = ", ".join(r.name for r in self.rules) or "none"
        raise KeyError(f"there is no rule named '{name}' (rules: {known})")


def load_config(path: str | Path = DEFAULT_CONFIG) -> tuple[Config, LocatedDocument]:
    """Validate the shared part of a config; raise ConfigError listing every problem with its line."""
    document = load_yaml(path)
    if not isinstance(document.data, dict):
        raise ConfigError([Problem(document.file, "", 1, "the file must be a mapping with 'sources' and 'rules'")])
    try:
        config = Config.model_validate(document.data)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation(exc, document)) from None
    config.base_dir = Path(path).resolve().parent
    problems = _duplicate_rule_names(config, document)
    if problems:
        raise ConfigError(problems)
    return config, document


def _duplicate_rule_names(config: Config, document: LocatedDocument) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for index, rule in enumerate(config.rules):
        if rule.name in seen:
            problems.append(document.problem(("rules", index, "name"),
                            f"the rule name '{rule.name}' is already used by rules[{seen[rule.name]}]; "
                            "rule names identify violations, so give each rule its own"))
        seen.setdefault(rule.name, index)
    return problems


def problems_from_validation(exc: ValidationError, document: LocatedDocument, prefix: PathKey = ()) -> list[Problem]:
    """Turn pydantic's errors into sentences located in the YAML file (never echoing the input value)."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and "[" in part))
        path = (*prefix, *loc)
        problems.append(document.problem(path, _sentence(error)))
    return problems


def _sentence(error: dict[str, Any]) -> str:
    kind = error["type"]
    field = error["loc"][-1] if error["loc"] else ""
    if kind == "missing":
        return f"'{field}' is required here; add it"
    if kind == "extra_forbidden":
        return f"'{field}' is not a setting here; check its spelling or remove it"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"this value is not allowed; use one of {expected}"
    if kind == "string_pattern_mismatch":
        return "use letters, digits, '_', '.' or '-', starting with a letter (at most 100 characters)"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    message = message[0].lower() + message[1:] if message else message
    return message if message.endswith(".") is False else message[:-1]
