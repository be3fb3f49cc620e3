"""Every tool form explains itself: each input has a label and a help line.

The browser test (tests/browser/test_tool_forms.py) checks the parameters a
form shows; this also reaches those inside conditional branches it does not open.
"""

import io
import re
import string
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from helpers import REPO

TOOLS = sorted(p for p in (REPO / "tools").glob("*.xml") if p.name != "macros.xml")


def form_params(tool_xml):
    inputs = ET.parse(tool_xml).getroot().find("inputs")
    return [param for param in inputs.iter("param") if param.get("type") != "hidden"]


def param_name(param):
    return param.get("name") or param.get("argument")


@pytest.mark.parametrize("tool_xml", TOOLS, ids=lambda p: p.stem)
def test_every_input_has_a_label_and_help(tool_xml):
    params = form_params(tool_xml)
    assert params, f"{tool_xml.name} has no inputs"
    unlabelled = [param_name(p) for p in params if not (p.get("label") or "").strip()]
    without_help = [param_name(p) for p in params if len((p.get("help") or "").strip()) < 10]
    assert not unlabelled, f"{tool_xml.name}: no label on {unlabelled}"
    assert not without_help, f"{tool_xml.name}: no help on {without_help}"


def test_all_tools_are_checked():
    assert [p.stem for p in TOOLS] == ["dnalm_compare_effects", "dnalm_compare_sequences",
                                       "dnalm_embed", "dnalm_finetune", "dnalm_generate",
                                       "dnalm_mutagenesis", "dnalm_predict", "dnalm_pretrain",
                                       "dnalm_score", "dnalm_score_variants", "dnalm_tokenize",
                                       "dnalm_train_tokenizer"]


# --- Galaxy conventions kept in one place (tools/macros.xml) ---------------------------------

MACROS = ET.parse(REPO / "tools" / "macros.xml").getroot()
ALL_XML = TOOLS + [REPO / "tools" / "macros.xml"]


def macro(name):
    found = [m for m in MACROS if m.get("name") == name]
    assert len(found) == 1, f"macros.xml defines {name!r} {len(found)} times"
    return found[0]


def expands(element, name):
    return any(e.get("macro") == name for e in element.iter("expand"))


@pytest.mark.parametrize("tool_xml", TOOLS, ids=lambda p: p.stem)
def test_every_tool_reports_the_dnalm_version(tool_xml):
    tool = ET.parse(tool_xml).getroot()
    assert [e.get("macro") for e in tool if e.tag == "expand"].count("version_command") == 1
    assert macro("version_command").find("version_command").text == "dnalm --version"


def regex_validators(xml):
    return [v for v in ET.parse(xml).getroot().iter("validator") if v.get("type") == "regex"]


@pytest.mark.parametrize("xml", ALL_XML, ids=lambda p: p.stem)
def test_regex_validators_are_anchored(xml):
    # Galaxy matches a regex validator from the start only: [^'"]* matches the empty prefix
    # of any value, so without ^...$ it refuses nothing.
    unanchored = [v.text for v in regex_validators(xml)
                  if not (v.text.startswith("^") and v.text.endswith("$"))]
    assert not unanchored, f"{xml.name}: unanchored regex validators {unanchored}"


@pytest.mark.parametrize("xml", ALL_XML, ids=lambda p: p.stem)
def test_every_text_parameter_is_checked(xml):
    unchecked = [
        param_name(p) for p in ET.parse(xml).getroot().iter("param")
        if p.get("type") == "text"
        and p.find("validator") is None and p.find("sanitizer") is None
        and not expands(p, "column_name_sanitizer")
    ]
    assert not unchecked, f"{xml.name}: text parameters without validator or sanitizer {unchecked}"


def sanitize(value, sanitizer):
    """What Galaxy's ToolParameterSanitizer does with <valid> and no <mapping>."""
    valid = sanitizer.find("valid")
    allowed = ""
    for preset in valid.get("initial").split(","):
        allowed += getattr(string, preset.strip().removeprefix("string."))
    allowed += "".join(add.get("value") for add in valid.findall("add"))
    return "".join(c if c in allowed else sanitizer.get("invalid_char") for c in value)


def test_quotes_tabs_and_backslashes_are_dropped_from_column_names():
    sanitizer = macro("column_name_sanitizer").find("sanitizer")
    assert sanitize("dn'a", sanitizer) == "dna"
    assert sanitize('na"me', sanitizer) == "name"
    assert sanitize("name'; rm -rf ~; '", sanitizer) == "name; rm -rf ; "
    assert sanitize("a\tb\\c\n", sanitizer) == "abc"
    for name in ["text", "sequence", "gene id", "#chrom", "exon/intron", "label_2 (a-b) [x]"]:
        assert sanitize(name, sanitizer) == name


def test_column_parameters_are_sanitised():
    param = macro("column_param").find("param")
    assert param.get("type") == "text" and expands(param, "column_name_sanitizer")


@pytest.mark.parametrize("tool_xml", TOOLS, ids=lambda p: p.stem)
def test_column_parameters_and_format_detection_come_from_macros(tool_xml):
    tool = ET.parse(tool_xml).getroot()
    inline_columns = [param_name(p) for p in tool.find("inputs").iter("param")
                      if (param_name(p) or "").replace("-", "_").lstrip("_").endswith("column")]
    assert not inline_columns, f"{tool_xml.name}: write {inline_columns} with the column macros"
    command = tool.find("command").text
    assert "is_of_type" not in command, f"{tool_xml.name}: detect formats with $sequence_format_option"
    uses_defs = "$sequence_format_option(" in command or "$column_options(" in command
    assert uses_defs == ("@SEQUENCE_INPUT_DEFS@" in command)


def test_the_column_section_is_written_once():
    tools = [ET.parse(t).getroot() for t in TOOLS]
    sections = [s.get("name") for t in tools for s in t.find("inputs").iter("section")
                if s.get("name") == "table"]
    assert not sections, "the CSV/tabular section comes from <expand macro=\"table_section\">"
    assert sum(expands(t.find("inputs"), "table_section") for t in tools) >= 3


def test_every_tool_has_its_tool_shed_repository():
    # .shed.yml lists the repositories by name (auto_tool_repositories would walk the virtualenvs)
    import yaml

    shed = yaml.safe_load((REPO / ".shed.yml").read_text())
    for tool_xml in TOOLS:
        includes = [i["source"] for i in shed["repositories"][tool_xml.stem]["include"]]
        expected = [f"tools/{tool_xml.name}", "tools/macros.xml", "test-data/"]
        root = ET.parse(tool_xml).getroot()
        if expands(root, "reference_genome") or expands(root, "model_input"):
            # a tool reading a data table ships its samples, as tools-iuc's mappers do
            expected += ["tool_data_table_conf.xml.sample"]
        if expands(root, "reference_genome"):
            expected += ["tool-data/all_fasta.loc.sample"]
        if expands(root, "model_input"):  # the installed models, Galaxy's huggingface table
            expected += ["tool-data/huggingface.loc.sample"]
        assert includes == expected, tool_xml.stem
    assert sorted(shed["repositories"]) == sorted(p.stem for p in TOOLS)


# --- help as the browser shows it ---------------------------------------------------------------
# Galaxy puts a parameter's help= into the form as HTML, and renders a tool's <help> from RST to
# HTML (docutils). A "<DEL>" written in help= is then an HTML tag, and the rest of the sentence
# shows struck through; in help= it is written &amp;lt;DEL&amp;gt;, in RST as it is.


class VisibleText(HTMLParser):
    """The tags of an HTML fragment and the text a browser shows of it."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.tags, self.parts = [], []
        self.feed(html)
        self.close()
        self.text = "".join(self.parts)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.parts.append(data)


def help_attributes(xml):
    """``[(element, help)]``: every help= in a file, macros' and <expand>s' included."""
    return [(f"{e.tag} {e.get('name') or e.get('argument') or e.get('macro') or ''}".strip(),
             e.get("help")) for e in ET.parse(xml).getroot().iter() if e.get("help")]


def test_help_attributes_are_read_whole():
    found = [help for xml in ALL_XML for _, help in help_attributes(xml)]
    assert len(found) > 100
    symbolic = next(h for h in found if "symbolic alleles" in h)
    assert "(<DEL>, *, <*>)" in VisibleText(symbolic).text  # as the browser shows it


@pytest.mark.parametrize("xml", ALL_XML, ids=lambda p: p.stem)
def test_parameter_help_has_no_html_tags(xml):
    tagged = [(element, VisibleText(help).tags) for element, help in help_attributes(xml)]
    tagged = [(element, tags) for element, tags in tagged if tags]
    assert not tagged, f"{xml.name}: help read as HTML tags (write < as &amp;lt;): {tagged}"


def tokens():
    return {t.get("name"): t.text or "" for t in MACROS.iter("token")}


def rst_to_html(text):
    """What Galaxy shows of a tool's <help>: docutils' HTML, and what docutils warned of."""
    from docutils.core import publish_parts

    warnings = io.StringIO()
    parts = publish_parts(text, writer="html4css1", settings_overrides={
        "report_level": 2, "halt_level": 5, "warning_stream": warnings, "doctitle_xform": False,
        "embed_stylesheet": False})
    return parts["body"], warnings.getvalue()


@pytest.mark.parametrize("tool_xml", TOOLS, ids=lambda p: p.stem)
def test_tool_help_renders_as_written(tool_xml):
    text = ET.parse(tool_xml).getroot().find("help").text
    for name, value in tokens().items():
        text = text.replace(name, value)
    html, warnings = rst_to_html(text)
    assert not warnings, f"{tool_xml.name}: docutils: {warnings}"
    shown = VisibleText(html)
    assert not set(shown.tags) & {"del", "s", "strike", "script", "style"}, tool_xml.name
    # every <...> written in the help is shown as text, none swallowed as a tag
    written = {w for w in re.findall(r"<[^<>\s`]+>", text) if not w.startswith("<http")}
    missing = [w for w in written if w not in shown.text]
    assert not missing, f"{tool_xml.name}: not shown as written: {missing}"
