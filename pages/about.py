"""About: what this is, privacy, crisis resources, and the index status for maintainers."""

import io

import streamlit as st

from kb.errors import KBError
from kb.index.build import changes_on_disk
from kb.index.store import read_manifest
from kb.safety import crisis_resources
from kb.web import text as ui
from kb.web import views
from kb.web.report import demand_figure, load_report

settings = views.settings()

st.title("About this library")
st.header("What this is")
st.markdown(
    "A library of plain-language articles about psychodynamic therapy, relationships and difficult "
    "feelings, each with its references and the date it was last reviewed. When you ask a question, the "
    "app finds the passages that fit and answers with sentences quoted from them, each with its source. "
    "When the library has nothing that fits, it says so instead of guessing. It can also suggest "
    "therapists from a directory (the one shipped here is sample data: fictional therapists)."
)
st.markdown("This is educational information, not therapy, diagnosis or an emergency service.")

st.header("Your privacy")
st.markdown(
    "- **Your questions are not stored, logged or sent anywhere.** They are answered in memory on this "
    "computer and forgotten when you close the page; they never appear in the page address.\n"
    "- **No telemetry:** no analytics, no usage statistics, no tracking cookies.\n"
    "- **Runs offline:** the language model, the articles and the index are all local; the app loads "
    "no web fonts, remote images or scripts."
)

st.header("If you are in crisis")
views.resource_list(crisis_resources(settings.region))
st.subheader("If you are worried about someone else")
views.helping_list()

st.header("For maintainers")
manifest = read_manifest(settings.index)
if manifest is None:
    st.warning("There is no search index yet.")
else:
    st.markdown(
        "\n".join(
            f"- **{name}:** {ui.escape_markdown(str(value))}"
            for name, value in {
                "Model": f"{manifest.model.name} ({manifest.model.dimension} dimensions)",
                "Documents": manifest.document_count,
                "Chunks": manifest.chunk_count,
                "Built at": manifest.built_at,
                "Index folder": settings.index,
            }.items()
        )
    )
changed = changes_on_disk(settings).lines()
st.markdown(f"**Documents changed since the build:** {len(changed)}")
if changed:
    st.markdown("\n".join(f"- {ui.escape_markdown(line)}" for line in changed))
problems = views.knowledge_base().directory.failures
if problems:
    st.warning(
        f"The therapist directory has {len(problems)} problem(s); each bad row is left out until it is fixed, "
        "and visitors see the rest:"
    )
    st.markdown("\n".join(f"- {ui.escape_markdown(f.path)}: {ui.escape_markdown(f.reason)}" for f in problems))
else:
    st.markdown("**Therapist directory:** every row loaded.")
st.markdown("To update the index after editing the corpus, run (only new or changed passages are embedded):")
st.code("kb index", language="bash")
st.caption("The app also builds or updates a missing or stale index when it starts.")

st.subheader("What visitors found helpful and what they need")
st.markdown(
    "Counted without any question: the date, the answer kind, the cited passages and the thumb for "
    "feedback; weekly counts of topics, abstentions, crisis panels and directory questions. "
    + (
        "Demand counting is on (set `demand_counts = false` to turn it off)."
        if settings.demand_counts
        else "Demand counting is off."
    )
)
try:
    report = load_report(settings)
except KBError as exc:
    st.warning(views.sentence(str(exc)))
else:
    if report.by_kind:
        st.markdown(
            "\n".join(
                f"- **{ui.escape_markdown(kind)}:** {v.get('helpful', 0)} helpful, {v.get('unhelpful', 0)} not helpful"
                for kind, v in report.by_kind.items()
            )
        )
    if report.articles:
        st.markdown("**Articles cited in rated answers** (most disappointing first):")
        st.markdown(
            "\n".join(
                f"- {ui.escape_markdown(a.title)}: {a.helpful} helpful, {a.unhelpful} not helpful"
                for a in report.articles[:15]
            )
        )
    if report.demand:
        labels = views.knowledge_base().topics.labels
        png = io.BytesIO()
        demand_figure(report, labels).savefig(png, format="png", dpi=100)
        st.image(
            png.getvalue(),
            alt="Chart: the topics of questions per week, and abstentions, crisis panels and "
            "directory questions per week (the same counts are in `kb report`).",
        )
    elif not report.by_kind:
        st.markdown("Nothing counted yet.")
    st.markdown("For the full report and the chart as a file, run:")
    st.code("kb report", language="bash")
