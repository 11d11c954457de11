"""Every rule of every shipped pack rests on documents of the sources register, readable by anyone.

The register (packs/sources.yaml) names each document (title, issuer, kind); a rule cites entries of it and the
first citation's kind fits the rule's level. No rule's text shows an internal research id (seed files,
REGULATIONS.md ids such as "PR-02" or "[S01]"): readers see titles and articles.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meiguard.rules.choices import RuleLevel, SourceKind
from meiguard.rules.packfile import PACK_FILE, parse_pack
from meiguard.rules.sources import kind_allowed, register

PACKS = Path(__file__).resolve().parent.parent / "packs"
SHIPPED = sorted(p for p in PACKS.iterdir() if (p / PACK_FILE).is_file())
# Internal research ids: seed files, REGULATIONS.md sections (IN-01, PR-02, DD-07 …) and source ids ([S01]).
INTERNAL_ID = re.compile(r"seed|\[S\d+[a-z]?\]|\b[A-Z]{2}-\d{2}\b", re.IGNORECASE)


def test_the_shipped_packs_are_the_national_the_template_and_beijing():
    assert [p.name for p in SHIPPED] == ["cn-bj", "cn-national", "institution-template"]


def test_every_register_entry_has_title_issuer_and_kind():
    docs = register()
    assert docs
    for ident, doc in docs.items():
        assert doc.id == ident
        assert doc.title.strip(), ident
        assert doc.issuer.strip(), ident
        assert doc.kind in SourceKind.values, ident


@pytest.fixture(scope="module")
def shipped(django_db_setup, django_db_blocker):
    # Parsed from the files (the institution template's limits name catalog items of the sibling national pack).
    with django_db_blocker.unblock():
        return {p.name: parse_pack(p) for p in SHIPPED}


@pytest.mark.django_db
@pytest.mark.parametrize("directory", [p.name for p in SHIPPED])
def test_every_rule_cites_register_entries_that_fit_its_level(shipped, directory):
    docs = register()
    pack = shipped[directory]
    assert pack.rules
    for rule in pack.rules:
        where = f"{directory}: {rule.rule_id}"
        if rule.op == "remove":
            continue
        assert len(rule.citations) >= 1, where
        for citation in rule.citations:
            doc = docs.get(citation["doc"])
            assert doc is not None, f"{where}: {citation['doc']} is not in the register"
            assert citation["title"] == doc.title and doc.title, where
            assert doc.issuer, where
            assert citation["kind"] == doc.kind and doc.kind in SourceKind.values, where
        level = rule.level or RuleLevel.NATIONAL
        assert kind_allowed(level, rule.citations[0]["kind"]), (
            f"{where}: {rule.citations[0]['kind']} for {level}"
        )
        assert rule.source.startswith("《"), where


@pytest.mark.django_db
@pytest.mark.parametrize("directory", [p.name for p in SHIPPED])
def test_no_rule_text_shows_an_internal_research_id(shipped, directory):
    pack = shipped[directory]
    texts = [("pack.description", str(pack.meta.get("description") or ""))]
    for rule in pack.rules:
        texts += [
            (f"{rule.rule_id}.source", rule.source),
            (f"{rule.rule_id}.title", rule.title),
            (f"{rule.rule_id}.title_en", rule.title_en),
            (f"{rule.rule_id}.note", rule.note),
        ]
        for index, citation in enumerate(rule.citations):
            texts += [(f"{rule.rule_id}.citations[{index}].{k}", str(v)) for k, v in citation.items()]
    found = [(where, text) for where, text in texts if INTERNAL_ID.search(text)]
    assert found == []


def test_the_institution_template_is_institution_level_and_adjustable(shipped):
    template = shipped["institution-template"]
    assert template.code == "inst-template"
    assert template.meta["jurisdiction"] == "institution"
    for rule in template.rules:
        assert rule.level == RuleLevel.INSTITUTION, rule.rule_id
        assert rule.adjustable is True, rule.rule_id
        assert rule.rule_id.startswith("INST."), rule.rule_id
        assert rule.citations[0]["kind"] in (SourceKind.INSTITUTION_POLICY, SourceKind.ASSOCIATION)
    national_ids = {r.rule_id for r in shipped["cn-national"].rules}
    assert not {r.rule_id for r in template.rules} & national_ids


@pytest.mark.django_db
def test_the_register_page_lists_documents_with_their_kind_and_citing_rules(client, django_user_model):
    from meiguard.rules.testing import load_builtin_packs

    load_builtin_packs()
    user = django_user_model.objects.create_user(username="reader", password="pw-reader-123456")
    client.force_login(user)
    html = client.get("/rules/sources/").content.decode()
    assert "规则依据登记册" in html
    assert "《医疗美容服务管理办法》" in html and "卫生部令第19号" in html and "部门规章" in html
    assert "主诊医师" in html  # a rule citing the Measures is listed beside it
    assert 'href="https://www.nhc.gov.cn/' in html  # official publisher linked
    assert "seed" not in html.lower()
    english = client.get("/rules/sources/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Measures for the Administration of Medical Aesthetic Services" in english
    assert "Departmental rule" in english
