"""Therapists: the directory with filters, or one profile (?id=). Sample data: the therapists are fictional."""

import streamlit as st

from kb.directory.matching import TherapistFilters, filter_therapists
from kb.web import text as ui
from kb.web import views

kb = views.knowledge_base()
directory = kb.directory
labels = kb.topics.labels
FORMATS = {None: "Online or in person", "online": "Online", "in-person": "In person"}
esc = ui.escape_markdown


def names(ids) -> str:
    return ", ".join(labels.get(i, i.replace("-", " ")) for i in ids)


def fee_line(t) -> str:
    return f"${t.fee} {directory.currency} per session" + (", sliding scale available" if t.sliding_scale else "")


def status(t) -> str:
    return "Accepting new clients" if t.accepting_new_clients else "Waitlist only: not accepting new clients"


def show_profile(t) -> None:
    st.page_link(views.PAGES["therapists"], label="All therapists", icon=":material/arrow_back:")
    st.header(esc(f"{t.name}, {t.credentials}"))
    place = ", ".join(p for p in (t.neighbourhood, t.city) if p)
    st.caption(esc(" · ".join(p for p in (t.pronouns, place) if p)))
    st.markdown(f"**{esc(status(t))}**")
    st.subheader("About")
    st.markdown(esc(t.bio))
    st.subheader("Details")
    rows = {
        "Specialties": names(t.specialties),
        "Approaches": ", ".join(t.modalities),
        "Works with": ", ".join(t.populations),
        "Languages": ", ".join(t.languages),
        "Sessions": " and ".join(FORMATS.get(f, f) for f in t.formats),
        "Fee": fee_line(t),
    }
    st.markdown("\n".join(f"- **{name}:** {esc(value)}" for name, value in rows.items()))
    st.markdown(ui.link("Full profile on the directory website", t.profile_url))


def show_directory() -> None:
    specialties = sorted({s for t in directory.therapists for s in t.specialties}, key=lambda s: names([s]))
    languages = sorted({lang for t in directory.therapists for lang in t.languages})
    with st.expander("Filter the directory", expanded=True, icon=":material/filter_list:"):
        left, right = st.columns(2)
        specialty = left.selectbox(
            "Specialty", [None, *specialties], format_func=lambda s: names([s]) if s else "Any", key="specialty"
        )
        language = right.selectbox("Language", [None, *languages], format_func=lambda v: v or "Any", key="language")
        fmt = left.selectbox("Format", list(FORMATS), format_func=FORMATS.get, key="format")
        max_fee = right.number_input(
            "Highest fee per session",
            min_value=0,
            max_value=2000,
            value=None,
            step=10,
            placeholder="No limit",
            key="max_fee",
        )
        accepting = left.checkbox("Accepting new clients", key="accepting")
        sliding = right.checkbox("Offers a sliding scale", key="sliding_scale")
    filters = TherapistFilters(
        topic=specialty,
        language=language,
        format=fmt,
        accepting=accepting,
        max_fee=int(max_fee) if max_fee is not None else None,
        sliding_scale=sliding,
    )
    found = filter_therapists(directory.therapists, filters)
    if filters != TherapistFilters() and st.session_state.get("directory_counted") != filters:
        st.session_state.directory_counted = filters  # one directory question per new set of filters
        views.count_demand("directory", "browse")
    st.markdown(f"**{len(found)} of {len(directory.therapists)} therapists**")
    for t in found:
        with st.container(border=True):
            st.subheader(esc(f"{t.name}, {t.credentials}"))
            st.markdown(
                esc(
                    f"{names(t.specialties[:4])}. {status(t)}. {fee_line(t)}. "
                    f"{' and '.join(FORMATS.get(f, f) for f in t.formats)}; {', '.join(t.languages)}."
                )
            )
            st.page_link(
                views.PAGES["therapists"],
                label=esc(f"View {t.name}'s profile"),
                query_params={"id": t.id},
                icon=":material/person:",
            )
    if not found:
        st.info("No therapist matches all of these filters. Try removing one.")
    views.directory_links(directory)


st.title("Therapists")
if directory.sample_data:
    st.warning(views.SAMPLE_DATA_NOTE, icon=":material/science:")
chosen = next((t for t in directory.therapists if t.id == st.query_params.get("id")), None)
if chosen is not None:
    show_profile(chosen)
elif st.query_params.get("id"):
    st.warning("There is no therapist with that id in the directory.")
    show_directory()
else:
    show_directory()
