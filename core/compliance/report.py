"""The compliance report in one language: checklist, model card, datasheet and audit trail, as a
JSON document, Markdown or HTML.

`report_document` builds the language-resolved content once; the Markdown and HTML writers only
lay it out. Every text that came from the user or their data (column names, notes, file names,
group labels) is escaped in HTML and in Markdown, so a cell holding `<script>` stays text.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.evaluate.explain import summary_lines
from core.evaluate.membership import privacy_lines
from core.export_safety import terminal_text
from core.i18n import DEFAULT_LANGUAGE, t

if TYPE_CHECKING:
    from core.compliance.anonymity import KAnonymity, LDiversity
    from core.compliance.audit import AuditTrail
    from core.compliance.checklist import Checklist, ItemResult, ModelFacts
    from core.compliance.fairness import FairnessReport
    from core.compliance.privacy import ScanResult

FORMATS = ("markdown", "html", "json")


@dataclass(frozen=True)
class ModelCardText:
    """The parts of a model card only a person can write."""

    name: str = ""
    version: str = ""
    owner: str = ""
    intended_use: str = ""
    out_of_scope: str = ""
    limitations: str = ""
    ethical_considerations: str = ""


@dataclass(frozen=True, eq=False)
class ReportInputs:
    """Everything a report may show; parts left as None are reported as not available."""

    results: Sequence[ItemResult] = ()
    card: ModelCardText = field(default_factory=ModelCardText)
    dataset_name: str = ""
    dataset_sha256: str = ""
    rows: int | None = None
    columns: Sequence[str] = ()
    scan: ScanResult | None = None
    k_anonymity: KAnonymity | None = None
    l_diversity: LDiversity | None = None
    deidentification: dict | None = None  # Deidentified.summary()
    model: ModelFacts | None = None
    fairness: FairnessReport | None = None
    audit: AuditTrail | None = None
    generated_at: str = ""


def report_document(inputs: ReportInputs, lang: str = DEFAULT_LANGUAGE) -> dict:
    """The report's content as plain JSON-safe data, every label in `lang`."""
    from core.compliance.checklist import load_checklist, progress

    checklist = load_checklist()
    made = inputs.generated_at or datetime.now(UTC).isoformat(timespec="seconds")
    summary = progress(inputs.results)
    return {
        "title": t("report.title", lang),
        "generated_at": made,
        "language": lang,
        "checklist": {
            "progress": summary.to_dict(),
            "summary": summary.message.text(lang),
            "items": [_item(result, checklist, lang) for result in inputs.results],
        },
        "model_card": _model_card(inputs, lang),
        "datasheet": _datasheet(inputs, lang),
        "audit": _audit(inputs, lang),
    }


def report_json(inputs: ReportInputs, lang: str = DEFAULT_LANGUAGE) -> str:
    """The report as JSON."""
    return json.dumps(report_document(inputs, lang), ensure_ascii=False, indent=2)


def report_markdown(inputs: ReportInputs, lang: str = DEFAULT_LANGUAGE) -> str:
    """The report as Markdown."""
    doc = report_document(inputs, lang)
    lines = [
        f"# {_md(doc['title'])}",
        "",
        f"{_md(t('report.generated', lang))}: {doc['generated_at']}",
    ]
    lines += [
        "",
        f"## {_md(t('report.section.checklist', lang))}",
        "",
        _md(doc["checklist"]["summary"]),
    ]
    section = None
    for item in doc["checklist"]["items"]:
        if item["section"] != section:
            section = item["section"]
            lines += ["", f"### {_md(item['section_title'])}", ""]
        lines.append(f"- **{_md(item['title'])}** — {_md(item['status_text'])}")
        for evidence in item["evidence"]:
            lines.append(f"  - {_md(evidence)}")
        if item["note"]:
            lines.append(f"  - {_md(t('report.note', lang))}: {_md(item['note'])}")
        if item["references"]:
            lines.append(
                f"  - {_md(t('report.references', lang))}: {_md('; '.join(item['references']))}"
            )
    card = doc["model_card"]
    lines += ["", f"## {_md(t('report.section.model_card', lang))}", ""]
    for label, value in card["fields"]:
        lines.append(f"- **{_md(label)}**: {_md(value)}")
    lines += _md_table(card["metrics_header"], card["metrics"])
    if card["groups"]:
        lines += ["", f"**{_md(card['groups_title'])}**"]
        lines += _md_table(card["groups_header"], card["groups"])
    for line in card["fairness"]:
        lines.append(f"- {_md(line)}")
    if card["explanation"]:
        lines += ["", f"**{_md(t('explain.card.section', lang))}**", ""]
        lines += [f"- {_md(line)}" for line in card["explanation"]]
    if card["privacy"]:
        lines += ["", f"**{_md(t('dp.card.section', lang))}**", ""]
        lines += [f"- {_md(line)}" for line in card["privacy"]]
    sheet = doc["datasheet"]
    lines += ["", f"## {_md(t('report.section.datasheet', lang))}", ""]
    for label, value in sheet["fields"]:
        lines.append(f"- **{_md(label)}**: {_md(value)}")
    if sheet["pii"]:
        lines += _md_table(sheet["pii_header"], sheet["pii"])
    audit = doc["audit"]
    lines += ["", f"## {_md(t('report.section.audit', lang))}", "", _md(audit["summary"])]
    if audit["events"]:
        lines += _md_table(audit["header"], audit["rows"])
    return "\n".join(lines) + "\n"


def report_html(inputs: ReportInputs, lang: str = DEFAULT_LANGUAGE) -> str:
    """The report as one self-contained HTML page."""
    doc = report_document(inputs, lang)
    e = _escape_html
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{e("zh-CN" if lang == "zh" else "en")}"><head><meta charset="utf-8">',
        f"<title>{e(doc['title'])}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.5}table{border-collapse:collapse;margin:.5rem 0}"
        "td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}"
        ".pass{color:#1a7f37}.warn{color:#9a6700}.fail{color:#cf222e}"
        ".not_applicable,.unanswered{color:#57606a}</style></head><body>",
        f"<h1>{e(doc['title'])}</h1>",
        f"<p>{e(t('report.generated', lang))}: {e(doc['generated_at'])}</p>",
        f"<h2>{e(t('report.section.checklist', lang))}</h2>",
        f"<p>{e(doc['checklist']['summary'])}</p>",
    ]
    section = None
    for item in doc["checklist"]["items"]:
        if item["section"] != section:
            if section is not None:
                parts.append("</ul>")
            section = item["section"]
            parts += [f"<h3>{e(item['section_title'])}</h3>", "<ul>"]
        parts.append(
            f"<li><strong>{e(item['title'])}</strong> — "
            f'<span class="{e(item["status"])}">{e(item["status_text"])}</span><ul>'
        )
        parts += [f"<li>{e(evidence)}</li>" for evidence in item["evidence"]]
        if item["note"]:
            parts.append(f"<li>{e(t('report.note', lang))}: {e(item['note'])}</li>")
        if item["references"]:
            refs = "; ".join(item["references"])
            parts.append(f"<li>{e(t('report.references', lang))}: {e(refs)}</li>")
        parts.append("</ul></li>")
    if section is not None:
        parts.append("</ul>")
    card = doc["model_card"]
    parts.append(f"<h2>{e(t('report.section.model_card', lang))}</h2>")
    parts.append(_html_fields(card["fields"]))
    parts.append(_html_table(card["metrics_header"], card["metrics"]))
    if card["groups"]:
        parts.append(f"<h3>{e(card['groups_title'])}</h3>")
        parts.append(_html_table(card["groups_header"], card["groups"]))
    parts += [f"<p>{e(line)}</p>" for line in card["fairness"]]
    if card["explanation"]:
        parts.append(f"<h3>{e(t('explain.card.section', lang))}</h3>")
        parts += [f"<p>{e(line)}</p>" for line in card["explanation"]]
    if card["privacy"]:
        parts.append(f"<h3>{e(t('dp.card.section', lang))}</h3>")
        parts += [f"<p>{e(line)}</p>" for line in card["privacy"]]
    sheet = doc["datasheet"]
    parts.append(f"<h2>{e(t('report.section.datasheet', lang))}</h2>")
    parts.append(_html_fields(sheet["fields"]))
    if sheet["pii"]:
        parts.append(_html_table(sheet["pii_header"], sheet["pii"]))
    audit = doc["audit"]
    parts += [f"<h2>{e(t('report.section.audit', lang))}</h2>", f"<p>{e(audit['summary'])}</p>"]
    if audit["events"]:
        parts.append(_html_table(audit["header"], audit["rows"]))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render_report(inputs: ReportInputs, fmt: str, lang: str = DEFAULT_LANGUAGE) -> bytes:
    """The report in one of FORMATS, as UTF-8 bytes ready to download or encrypt."""
    writers = {"markdown": report_markdown, "html": report_html, "json": report_json}
    if fmt not in writers:
        raise ValueError(f"format must be one of {FORMATS}")
    return writers[fmt](inputs, lang).encode("utf-8")


# --- content --------------------------------------------------------------------------------


def _item(result: ItemResult, checklist: Checklist, lang: str) -> dict:
    item = checklist.item(result.id)
    return {
        "id": result.id,
        "section": item.section,
        "section_title": checklist.section(item.section).text(lang),
        "title": item.text("title", lang),
        "question": item.text("question", lang),
        "status": result.status,
        "status_text": t(f"compliance.status.{result.status}", lang),
        "evidence": [message.text(lang) for message in result.evidence],
        "note": result.note,
        "source": result.source,
        "references": [reference.text() for reference in item.references],
    }


def _not_given(value: str, lang: str) -> str:
    return value.strip() if value and value.strip() else t("report.not_given", lang)


def _model_card(inputs: ReportInputs, lang: str) -> dict:
    card, model = inputs.card, inputs.model
    fields = [
        (t("report.card.name", lang), _not_given(card.name, lang)),
        (t("report.card.version", lang), _not_given(card.version, lang)),
        (t("report.card.owner", lang), _not_given(card.owner, lang)),
        (t("report.card.intended_use", lang), _not_given(card.intended_use, lang)),
        (t("report.card.out_of_scope", lang), _not_given(card.out_of_scope, lang)),
        (t("report.card.data", lang), _not_given(inputs.dataset_name, lang)),
        (t("report.card.limitations", lang), _not_given(card.limitations, lang)),
        (t("report.card.ethics", lang), _not_given(card.ethical_considerations, lang)),
    ]
    metrics: list[list[str]] = []
    if model is None:
        fields.append((t("report.card.model", lang), t("report.no_model", lang)))
    else:
        fields.append((t("report.card.task", lang), model.task))
        if model.parameters is not None:
            fields.append((t("report.card.parameters", lang), f"{model.parameters:,}"))
        if model.training_seconds is not None:
            fields.append((t("report.card.training_time", lang), f"{model.training_seconds:.1f} s"))
        if model.size_bytes is not None:
            fields.append((t("report.card.size", lang), f"{model.size_bytes / 1024:.1f} KiB"))
        values = model.metrics or {model.metric: model.value}
        metrics = [[name, _number(value)] for name, value in values.items()]
        metrics += [
            [f"{name} ({t('report.baseline', lang)}, {model.metric})", _number(value)]
            for name, value in model.baselines.items()
        ]
    groups: list[list[str]] = []
    fairness_lines: list[str] = []
    report = inputs.fairness
    if report is not None:
        groups = [
            [
                group.group,
                str(group.count),
                _number(group.accuracy),
                _number(group.selection_rate),
                _number(group.tpr),
                _number(group.fpr),
            ]
            for group in (report.overall, *report.groups)
        ]
        groups[0][0] = t("report.overall", lang)
        fairness_lines.append(
            t(
                "report.fairness_line",
                lang,
                dpd=_number(report.demographic_parity_difference),
                dpr=_number(report.demographic_parity_ratio),
                eod=_number(report.equalized_odds_difference),
            )
        )
        fairness_lines += [message.text(lang) for message in report.findings]
    return {
        "fields": fields,
        "metrics_header": [t("report.metric", lang), t("report.value", lang)],
        "metrics": metrics,
        "groups_title": t("report.groups_title", lang, column=report.sensitive if report else ""),
        "groups_header": [
            t("report.group", lang),
            t("report.count", lang),
            t("report.accuracy", lang),
            t("report.selection_rate", lang),
            "TPR",
            "FPR",
        ],
        "groups": groups,
        "fairness": fairness_lines,
        # The run's Shapley attributions: method and mean |attribution| (core.evaluate.explain).
        "explanation": []
        if model is None or not model.explanation
        else summary_lines(dict(model.explanation), lang),
        # DP-SGD's ε and δ and the membership-inference attack (core.evaluate.membership).
        "privacy": []
        if model is None or not model.privacy
        else privacy_lines(dict(model.privacy), lang),
    }


def _datasheet(inputs: ReportInputs, lang: str) -> dict:
    fields = [
        (t("report.sheet.name", lang), _not_given(inputs.dataset_name, lang)),
        (t("report.sheet.sha256", lang), _not_given(inputs.dataset_sha256, lang)),
        (
            t("report.sheet.size", lang),
            t("report.sheet.size_value", lang, rows=inputs.rows, columns=len(inputs.columns))
            if inputs.rows is not None
            else t("report.not_given", lang),
        ),
    ]
    pii: list[list[str]] = []
    scan = inputs.scan
    if scan is not None:
        fields.append(
            (
                t("report.sheet.direct_identifiers", lang),
                ", ".join(scan.direct_identifiers) or t("report.none", lang),
            )
        )
        fields.append(
            (
                t("report.sheet.sensitive", lang),
                ", ".join(scan.sensitive_columns) or t("report.none", lang),
            )
        )
        for column in scan.columns:
            for entity in column.entities:
                pii.append(
                    [
                        column.name,
                        t(f"privacy.entity.{entity.type.lower()}", lang),
                        f"{entity.match_rate:.0%}",
                        f"{entity.valid_rate:.0%}",
                    ]
                )
            for finding in column.sensitive:
                pii.append([column.name, finding.message.text(lang), "", ""])
    if inputs.k_anonymity is not None:
        fields.append((t("report.sheet.k_anonymity", lang), inputs.k_anonymity.message.text(lang)))
    if inputs.l_diversity is not None:
        fields.append((t("report.sheet.l_diversity", lang), inputs.l_diversity.message.text(lang)))
    if inputs.deidentification:
        label = inputs.deidentification.get("label", "")
        fields.append(
            (t("report.sheet.deidentification", lang), t(f"anonymity.label.{label}", lang))
        )
    return {
        "fields": fields,
        "pii_header": [
            t("report.column", lang),
            t("report.finding", lang),
            t("report.match_rate", lang),
            t("report.valid_rate", lang),
        ],
        "pii": pii,
    }


def _audit(inputs: ReportInputs, lang: str) -> dict:
    trail = inputs.audit
    if trail is None or not len(trail):
        return {"verified": None, "summary": t("report.no_audit", lang), "events": [], "rows": []}
    verification = trail.verify()
    events = [event.to_dict() for event in trail.events]
    rows = [
        [
            str(event.index),
            event.time,
            t(f"audit.kind.{event.kind}", lang, time=event.time)
            + (f" ({t('audit.imported', lang)})" if event.imported else ""),
            _short_details(event.details),
            event.hash[:12],
        ]
        for event in trail.events
    ]
    return {
        "verified": verification.ok,
        "summary": verification.message.text(lang),
        "events": events,
        "header": [
            "#",
            t("report.time", lang),
            t("report.event", lang),
            t("report.details", lang),
            "HMAC-SHA-256",
        ],
        "rows": rows,
    }


def _short_details(details: dict, limit: int = 160) -> str:
    text = json.dumps(details, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


# --- layout ---------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!])")


def _md(text: object) -> str:
    """User text made inert in Markdown: special characters escaped, one line."""
    return _MD_SPECIAL.sub(r"\\\1", terminal_text(" ".join(str(text).split())))


def _escape_html(text: str, quote: bool = True) -> str:
    """User text made inert in HTML, with controls and bidi overrides as visible escapes."""
    return html.escape(terminal_text(text), quote)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    if not rows:
        return []
    lines = ["", "| " + " | ".join(_md(cell) for cell in header) + " |"]
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows]
    return lines


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    if not rows:
        return ""
    e = _escape_html
    head = "".join(f"<th>{e(str(cell))}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{e(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_fields(fields: Sequence[tuple[str, str]]) -> str:
    e = _escape_html
    items = "".join(f"<dt>{e(label)}</dt><dd>{e(value)}</dd>" for label, value in fields)
    return f"<dl>{items}</dl>"
