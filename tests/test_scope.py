"""Scope: medication, diagnosis, legal and coursework questions get a specific abstention; French is noticed."""

from __future__ import annotations

import pytest

from kb.answering.scope import looks_french, out_of_scope

# One distinctive phrase from each reason, so a test fails if a question gets the wrong kind of refusal.
MEDICATION, DIAGNOSIS, LEGAL, COURSEWORK, PETS = "medication", "diagnose", "legal", "study aid", "pet's"


@pytest.mark.parametrize(
    "question, reason",
    [
        # medication: dose, choice, starting or stopping
        ("What is the right dose of sertraline for me?", MEDICATION),
        ("what dose of melatonin should I take", MEDICATION),
        ("how much melatonin should I take before bed?", MEDICATION),
        ("how many mg of lorazepam is too much?", MEDICATION),
        ("which antidepressant is better for me, sertraline or escitalopram?", MEDICATION),
        ("Which medication works best for anxiety?", MEDICATION),
        ("Should I take sertraline?", MEDICATION),
        ("can I stop taking my antidepressants?", MEDICATION),
        ("Can I increase my meds when I feel worse?", MEDICATION),
        ("can I take ibuprofen with my sertraline?", MEDICATION),
        ("Zoloft vs Prozac for panic attacks", MEDICATION),
        # diagnosis of the person asking
        ("can you diagnose me with ADHD", DIAGNOSIS),
        ("Please give me a diagnosis", DIAGNOSIS),
        ("Do I have bipolar or is it just stress?", DIAGNOSIS),
        ("do I have an eating disorder?", DIAGNOSIS),
        ("Do I have a personality disorder or am I just difficult?", DIAGNOSIS),
        # legal referrals
        ("can you recommend a divorce lawyer in Toronto", LEGAL),
        ("Do I need a lawyer for my custody case?", LEGAL),
        ("can you refer me to an attorney", LEGAL),
        ("I need legal advice about my landlord", LEGAL),
        ("Should I sue my therapist for breaking confidentiality?", LEGAL),
        # coursework
        ("explain Pavlov's classical conditioning for my intro psych exam", COURSEWORK),
        ("help with my homework on attachment theory", COURSEWORK),
        ("I need sources for my psychology essay on Freud", COURSEWORK),
        ("answer the questions on my psych assignment", COURSEWORK),
        # a pet's training
        ("how can I get my dog to stop barking at night", PETS),
        ("tips to house train a new puppy", PETS),
        ("how do I teach my kitten to use the litter box", PETS),
    ],
)
def test_questions_the_library_does_not_answer_get_a_specific_reason(question, reason):
    refusal = out_of_scope(question)
    assert refusal is not None and reason in refusal


@pytest.mark.parametrize(
    "question",
    [
        # medication as a subject, not a prescription
        "should I worry that therapy and medication conflict?",
        "Can therapy and medication be combined?",
        "Is medication or therapy better for depression?",
        "Will my therapist judge me for taking medication?",
        "should I tell my therapist I take antidepressants?",
        "Do I have to see a psychiatrist to get medication?",
        "Can I take a break from therapy while I'm on medication?",
        "can I take notes during a session about my medication?",
        # everyday concerns
        "what is anxiety?",
        "I feel anxious all the time, is that normal?",
        "how do I cope with grief after my father died?",
        "what do psychodynamic therapists think about my dreams?",
        "do I have to pay for therapy?",
        # diagnosis as a concept
        "what is a diagnosis in the PDM-2",
        "How does the PDM-2 differ from the DSM?",
        "what does a psychiatrist do differently from a psychologist?",
        # a lawyer or an exam in a person's life, not a request for one
        "My dad is a lawyer and very critical of me",
        "I'm a lawyer and burned out, can therapy help?",
        "my lawyer says therapy notes can be subpoenaed, is that true?",
        "my exam anxiety is terrible, what helps?",
        "I'm anxious about my exam tomorrow",
        "Is it normal to feel overwhelmed by my assignment at work?",
        # a pet in a person's life, not its training
        "my dog died last week and I can't stop crying",
        "my partner's dog chews everything and we keep fighting about it",
    ],
)
def test_ordinary_questions_are_in_scope(question):
    assert out_of_scope(question) is None


@pytest.mark.parametrize(
    "question",
    [
        "Qu'est-ce que la thérapie psychodynamique?",
        "Je suis très anxieux depuis des semaines, que faire?",
        "Comment trouver un thérapeute pour mon fils?",
        "Mon père est décédé l'an dernier et je n'arrive pas à faire mon deuil",
        "Pourquoi je suis anxieuse tout le temps sans raison?",
    ],
)
def test_french_questions_look_french(question):
    assert looks_french(question)


@pytest.mark.parametrize(
    "question",
    [
        "What is transference?",
        "I feel anxious all the time and I don't know why",
        "how do I cope with grief after my father died?",
        "How do I talk to Jean-Luc Dubois about my grief?",
        "Is Pierre de la Fontaine taking new patients?",
        "Can I see Dr. Le Blanc for anxiety?",
        "therapy",
    ],
)
def test_english_questions_even_with_a_french_name_do_not_look_french(question):
    assert not looks_french(question)
