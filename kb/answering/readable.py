"""What reads badly when quoted as an answer: fragments, headings, lone yes/no, lines written to a helper."""

from __future__ import annotations

import re

MIN_WORDS = 6  # a sentence shorter than this does not stand alone
_YES_NO = re.compile(r"^(?:yes|no|not always|not necessarily|absolutely|of course|sometimes)\b[\s\W]*$", re.I)
_CLOSERS = "\"'”’)]*_"
_ENDS = (".", "!", "?", "…", ":")
# Sentences about the article itself read oddly when quoted as an answer.
_META = re.compile(
    r"^(this|the) (article|page|handout|worksheet|guide|section)\b|^in this (article|page|section)\b"
    r"|^(read on|see also|below,)",
    re.I,
)
_HELPED = (
    r"(?:them|him|her|the person|your (?:friend|partner|child|teen|teenager|son|daughter|loved one|parent"
    r"|family member|relative))"
)
# Advice to someone helping another person ("Let them talk...") is not written for a visitor asking for themselves.
_TO_HELPER = re.compile(
    rf"^(?:let|ask|tell|help|encourage|remind|reassure|listen to|offer|invite|support|give|stay with|check in with"
    rf"|thank|believe|praise|comfort|gently ask|try asking) {_HELPED}\b"
    r"|^(?:if|when) (?:your|a) (?:friend|loved one|partner|child|teen|teenager|son|daughter|family member|relative)\b"
    r"|^(?:if|when) someone you (?:love|care about)\b",
    re.I,
)
_SOMEONE_ELSE = re.compile(
    r"\b(?:my|our) (?:\w+ )?(?:friend|partner|husband|wife|boyfriend|girlfriend|spouse|son|daughter|child|children"
    r"|kids?|teen|teenager|mom|mum|mother|dad|father|parents?|sister|brother|sibling|family|fianc\w*|ex|roommate"
    r"|co-?worker|colleague|boss|client|student|patient|grand\w+|loved one|niece|nephew|cousin|aunt|uncle)\b"
    r"|\b(?:someone|somebody|a friend|a loved one|he|she|him|his)\b",
    re.I,
)


_FOR_HELPERS = re.compile(
    r"\b(someone else|worried about (someone|a|your)|support(ing)? (someone|a friend|a loved one|"
    r"your|a partner|a child)|help(ing)? (someone|a friend|a loved one)|loved one|as a supporter)\b",
    re.I,
)


def written_for_helpers(title: str, section: str) -> bool:
    """Whether an article or section is written for someone supporting another person."""
    return bool(_FOR_HELPERS.search(f"{title} > {section}"))


def word_count(text: str) -> int:
    return len(re.findall(r"\w+", text))


def unbalanced_quotes(text: str) -> bool:
    """Straight double quotes that do not pair up, or curly ones that open without closing."""
    return text.count('"') % 2 == 1 or text.count("“") != text.count("”")


def is_yes_no(sentence: str) -> bool:
    """ "No.", "Yes!", "Not always." : a reply to a question the visitor may not have asked."""
    return bool(_YES_NO.match(sentence.strip()))


# A span that opens on one of these leans on a sentence the reader has not seen ("It is normal to ..." and
# "Here are some ..." do not).
_LEANS_BACK = re.compile(
    r"^(?!it(?:'s| is| can be| may be| might be| was) (?:okay|ok|normal|common|natural|possible|important|hard|"
    r"difficult|worth|helpful|useful|understandable|never too late|easy|also|time|a good idea)\b|"
    r"it (?:may|can|might|often|usually|sometimes) help\b|here (?:are|is)\b)"
    r"(this|that|these|those|it|its|they|their|them|such|but|and|also|however|so|then|"
    r"instead|otherwise|here|both|another|the other|for (this|that) reason|even so|"
    r"in (this|that|these|those) \w+|at (this|that) point|as a result|at the same time|"
    r"on the other hand|similarly|likewise|still|if (so|not|the person|they|he|she))\b",
    re.I,
)


# "Anger can also be hidden ...", "Others find ...": a sentence that adds to one the reader has not seen.
_ADDS_TO = re.compile(r"^\W*(?:(?:others|other people|the rest)\b|(?:[\w'’-]+\W+){0,5}?also\b)", re.I)


def leans_back(sentence: str) -> bool:
    """ "This means ...", "It passes.", "Others find ...": a sentence that refers to or adds to one before it,
    so it cannot open a quote."""
    text = sentence.strip()
    return bool(_LEANS_BACK.match(text) or _ADDS_TO.match(text))


_REPLY_OPENER = re.compile(r"^(?:yes|no)\b\s*[,.;:!\u2014-]", re.I)


def opens_with_reply(sentence: str) -> bool:
    """'Yes, ...' or 'No. Many people ...': a reply to the question a heading asks, which reads as an answer to
    whatever the visitor asked when the span is quoted for another question."""
    return bool(_REPLY_OPENER.match(sentence.strip()))


def is_unfinished(sentence: str) -> bool:
    """A sentence without an end mark (cut by a page break or a budget, or a label)."""
    return not sentence.rstrip().rstrip(_CLOSERS).endswith(_ENDS)


def is_about_the_text(sentence: str) -> bool:
    """ "This article explains...", "See also ...": about the page, not about the question."""
    return bool(_META.search(sentence.strip()))


def addressed_to_helper(sentence: str) -> bool:
    """Advice to someone helping another person: "Let them talk", "If your friend tells you..."."""
    return bool(_TO_HELPER.search(sentence.strip().lstrip("*_ ")))


# Someone named only as the one who died is not who the question is for: "my mom died and I can't stop crying".
_BEREAVED = re.compile(
    r"\b(?:my|our) (?:\w+ )?\w+(?:'s)? (?:died|passed(?: away)?|death|funeral|suicide|is gone)\b"
    r"|\b(?:lost|losing|grieving|mourning|missing|miss) (?:my|our) (?:\w+ )?\w+\b"
    r"|\b(?:since|after) (?:my|our) (?:\w+ )?\w+ (?:died|passed)\b",
    re.I,
)


# "I have anxiety", "my jealousy", "I'm always anxious about him cheating": the asker's own feelings are the
# subject, even with someone else in the question.
_FEELING = (
    r"(?:anxi\w*|depress\w*|lonely|loneliness|jealous\w*|insecur\w*|worr\w*|panic\w*|angry|anger|sad|sadness"
    r"|scared|afraid|fears?|stress\w*|overwhelm\w*|numb|empty|hopeless|ashamed|shame|guilt\w*|self[- ]esteem"
    r"|worthless|trust issues)"
)
_OWN_FEELINGS = re.compile(
    r"\b(?:i'm|i am|i feel|i've been|i have been|i have|i get|i keep|i always|i often|i still|i'?ve always|myself)"
    rf" (?:(?!he\b|she\b|they\b|him\b|her\b|his\b|my\b|their\b)\w+ ){{0,2}}{_FEELING}\b"
    rf"|\bmy (?:own )?{_FEELING}\b",
    re.I,
)
# "How do I help my partner?", "how can I support her": the asker is the helper.
_ASKS_TO_HELP = re.compile(
    r"\b(?:help|support|encourage|convince|get|reach|talk to|be there for|comfort) (?:my|him|her|them|someone"
    r"|a friend|a loved one)\b|\bhow (?:can|do|should|could) (?:i|we) (?:help|support)\b",
    re.I,
)


def asks_for_self(question: str) -> bool:
    """Whether a question is about the person asking: no one else in it (the dead they grieve aside), or the
    asker speaks of their own feelings ("I have anxiety and worry about him cheating") without asking how to
    help someone else."""
    if not _SOMEONE_ELSE.search(_BEREAVED.sub(" ", question)):
        return True
    return bool(_OWN_FEELINGS.search(question)) and not _ASKS_TO_HELP.search(question)


# The people an answer can be about, beside the visitor. A passage that says "your teen" is written for a
# parent of a teen; quoted to someone who never mentioned a child, it reads as a claim about them.
ROLES = {
    "child": r"child|children|kids?|son|sons|daughters?|teens?|teenagers?|toddlers?|baby|babies|adolescents?"
    r"|preteens?|tweens?|stepchild\w*|stepson|stepdaughter",
    "partner": r"partners?|husband|wife|boyfriend|girlfriend|spouse|fianc\w*|ex|significant other",
    "parent": r"parents?|mom|mum|mother|dad|father|stepmom|stepmother|stepdad|stepfather|stepparents?|mommy|daddy",
    "friend": r"friends?",
}
# A question can name the relationship instead of the person: "my marriage", "we've been dating".
_IMPLIED = {
    "child": r"|pregnan\w*|parenting|grandchild\w*|grandkids?|grandson|granddaughter|sons?|nephew|niece",
    "partner": r"|marriage|married|marry|(?:my|our|in an?|romantic) relationship|dating|date|dated|engaged|divorc\w*"
    r"|cheat\w*|affair|wedding|couples? (?:therapy|counsell?ing|counsell?or|sessions?)",
    "parent": r"|caregiver|caring for|grandma|grandpa|grandmother|grandfather|family",
    "friend": r"|roommate|classmate|coworker|colleague",
}
_ROLE_WORDS = {role: re.compile(rf"\b(?:{words}{_IMPLIED[role]})\b", re.I) for role, words in ROLES.items()}
# "your parents" is everyone's childhood; "your mother" or "your parent" is someone the reader looks after.
_ASSUMED = {**ROLES, "parent": r"parent|mom|mum|mother|dad|father|stepmom|stepmother|stepdad|stepfather|stepparent"}
_YOUR_ROLE = {role: re.compile(rf"\byour (?:\w+[- ])?(?:{words})\b", re.I) for role, words in _ASSUMED.items()}
# "As a parent, you ..." gives the reader a child; "such as a parent who left" does not.
_AS_PARENT = re.compile(
    r"(?<!such )\bas an? (?:new |single )?(?:parent|mom|mum|mother|dad|father)\b"
    r"|\b(?:you are|you're|being) an? (?:new |single )?(?:parent|mom|mum|mother|dad|father)\b",
    re.I,
)
_CARES_FOR = re.compile(r"\b(?:caregiv\w*|car(?:e|ing) for|look(?:ing)? after|tak(?:e|ing) care of)\b", re.I)
_I_PARENT = re.compile(r"\b(?:i'?m|i am|as) an? (?:\w+ )?(?:parent|mom|mum|mother|dad|father)\b", re.I)


def roles_mentioned(question: str) -> set[str]:
    """Who besides the asker a question is about: a child ("my son", "I'm a mom"), a partner, a parent, a friend,
    someone the asker looks after ("cared-for")."""
    found = {role for role, pattern in _ROLE_WORDS.items() if pattern.search(question)}
    if _I_PARENT.search(question):
        found.add("child")
    if _CARES_FOR.search(question):
        found.add("cared-for")
    return found


# "the person you are caring for", "as a caregiver": the reader looks after someone.
_CARING = re.compile(
    r"\b(?:someone|the person|a person|the people|a loved one) (?:you(?:'re| are)?|I'm|I am) (?:caring for|care for"
    r"|look(?:ing)? after)\b|\bas an? (?:family )?caregiver\b|\bcaring for (?:a|an|someone|the person)\b",
    re.I,
)


def roles_assumed(sentence: str) -> set[str]:
    """Who a sentence takes the reader to have: "your teen", "your partner", "as a parent" (then a child), "the
    person you are caring for"."""
    found = {role for role, pattern in _YOUR_ROLE.items() if pattern.search(sentence)}
    if _AS_PARENT.search(sentence):
        found.add("child")
    if _CARING.search(sentence):
        found.add("cared-for")
    return found


def assumes_someone_unmentioned(sentence: str, question: str) -> bool:
    """A sentence that gives the visitor a child, partner, parent or friend their question does not mention."""
    assumed = roles_assumed(sentence)
    return bool(assumed) and not assumed <= roles_mentioned(question)


_MY_ROLE = {role: re.compile(rf"\b(?:my|our) (?:\w+[- ])?(?:{words})\b", re.I) for role, words in ROLES.items()}


def written_for_someone_with(title: str, section: str) -> set[str]:
    """Whom an article or section is written about, from its headings: "How do I help my teenager who won't
    talk to me?" is for a parent of a teen, "Wondering about your child's mind" too."""
    heading = f"{title} > {section}"
    found = {role for role, pattern in _MY_ROLE.items() if pattern.search(heading)}
    return found | roles_assumed(heading)


# Heavy themes a section can be about, by its headings, and the words a question that raises them uses: a section
# on a child being hurt, an eating disorder or drinking, quoted to a question that never raised it, reads as a claim
# about the visitor ("What should I do if I think someone is hurting my child?" for "Should I take my daughter to
# therapy?").
_THEMES = {
    "harm": (
        r"\b(?:abus\w*|hurt(?:ing|s)? (?:you|your|my|me|them|him|her|another|others|someone|a child|children)"
        r"|being hurt|violen\w*|assault\w*|unsafe"
        r"|not safe|hit(?:s|ting)? (?:you|me))\b",
        r"\b(?:abus\w*|hurt\w*|hit|hits|hitting|violen\w*|assault\w*|unsafe|safe|safety|beat\w*|rap(?:e|ed|ist)"
        r"|molest\w*|touch\w*|threat\w*|scared|afraid|fear\w*|yell\w*|scream\w*|bruis\w*|control\w*|grab\w*"
        r"|push\w*|shov\w*|slap\w*|punch\w*|kick\w*|danger\w*|police|cps|cas|toxic|mean|cruel|mistreat\w*|harass\w*"
        r"|stalk\w*|altercation\w*|fight\w*|violent|narciss\w*|manipulat\w*)\b",
    ),
    "eating": (
        r"\b(?:eat|eating|food|bulimi\w*|anorexi\w*|binge\w*|purg\w*|weight)\b",
        r"\b(?:eat\w*|ate|food|bulimi\w*|anorexi\w*|binge\w*|purg\w*|weight|body|meals?|hungry|diet\w*|thin|fat"
        r"|vomit\w*|throw\w* up|calorie\w*|starv\w*)\b",
    ),
    "substances": (
        r"\b(?:alcohol|drink\w*|drugs?|substances?|addict\w*|gambl\w*)\b",
        r"\b(?:alcohol\w*|drink\w*|drunk|drugs?|substances?|addict\w*|gambl\w*|weed|cannabis|marijuana|high|pills"
        r"|using|sober\w*|relaps\w*|beer|wine|vap\w*|smok\w*|cocaine|opioid\w*|bet|betting|casino|detox\w*|overdos\w*"
        r"|withdraw\w*)\b",
    ),
    # Situations a section can be written for that a question has to raise itself (session 15, from the train part:
    # "How do I tell a partner that I crossdress?" to someone asking how to bring up a partner's texting, a section
    # on an unwanted sexual experience to a question about a partner's sex drive).
    "gender-sexuality": (
        r"\b(?:crossdress\w*|trans|transgender|gender|2slgbtq\w*|lgbtq\w*|queer|gay|lesbian|bisexual|coming out"
        r"|come out|outed|sexual orientation|sexuality|homophob\w*|transphob\w*)\b",
        r"\b(?:crossdress\w*|cross-dress\w*|dress\w* (?:up )?(?:as|like) an? (?:woman|man|girl|boy|female|male|lady)"
        r"|trans|transgender|transition\w*|gender\w*|nonbinary|non-binary|queer|gay|lesbian|bi|bisexual|pansexual"
        r"|asexual|2slgbtq\w*|lgbt\w*|coming out|come out|came out|outed|sexual orientation|orientation|sexuality"
        r"|same[- ]sex|homosexual\w*|homophob\w*|transphob\w*|pronouns?|drag|ftm|mtf|female-to-male|male-to-female"
        r"|dysphori\w*"
        r"|attracted to (?:\w+ )?(?:men|women|girls|boys|guys|males|females|the same|both)|identif\w* as"
        r"|born (?:as )?an? (?:male|female|boy|girl|man|woman)|(?:want|wants|wanted|wish|wishing|wished) to be an?"
        r" (?:girl|boy|woman|man|female|male)|feel(?:s|ing)? like an? (?:girl|boy|woman|man|female|male)"
        r"|genre|gai|lesbienne|bisexuel\w*|travesti\w*|orientation sexuelle|placard|dysphorie)\b",
    ),
    "unwanted-sex": (
        r"\b(?:sexual experience\b.*\bdidn'?t (?:really )?want|unwanted sexual (?:experience|contact|touch)\w*"
        r"|rape|raped|sexual assault)\b",
        r"\b(?:rap(?:e|ed|ist)|assault\w*|molest\w*|abus\w*|consent\w*|advances|forced|coerc\w*|pressur\w*|unwanted"
        r"|against my will|said no|say no|saying no|didn'?t (?:really )?want|did not want|touched me|groped"
        r"|viol|violée?|agression\w*|consentement|forcée?|attouchement\w*)\b",
    ),
    "separation": (
        r"\b(?:divorc\w*|separat(?:ed|ion|ing))\b",
        r"\b(?:divorc\w*|separat\w*|custody|co-?parent\w*|visitation|ex-?(?:wife|husband|spouse)|split (?:up)?"
        r"|splitting up|moved out|left (?:me|us|the family|home)"
        r"|sépar\w*|garde partagée|ex-conjoint\w*)\b",
    ),
    "pregnancy": (
        r"\bpregnan\w*",
        r"\b(?:pregnan\w*|expecting|unborn|prenatal|midwife|conceiv\w*|enceinte|grossesse)\b",
    ),
    "military": (
        r"\b(?:military|veterans?)\b",
        r"\b(?:military|veterans?|army|navy|air force|marines?|armed forces|soldiers?|service ?members?|deploy\w*"
        r"|combat|enlist\w*|discharg\w*|served|caf|base"
        r"|militaire\w*|armée|vétéran\w*|forces armées)\b",
    ),
    # Suicide is never brought up to someone who did not raise it (safe messaging), nor a suicide loss to the grieving.
    "suicide": (
        r"\bsuicid\w*|\bwants? to die\b|\bkill (?:themselves|yourself|myself)\b",
        r"\b(?:suicid\w*|kill (?:him|her|them|my|your)sel(?:f|ves)|end (?:his|her|their|my) (?:own )?life"
        r"|want(?:s|ed)? to die|attempt\w*|overdos\w*|took (?:his|her|their) (?:own )?life|died by|self[- ]harm\w*"
        r"|988|9-8-8|crisis|not (?:want|wanting) to (?:live|be alive)"
        r"|mourir|me tuer|se tuer|en finir)\b",
    ),
    # Infidelity and anger are claims about someone too: "How do I forgive a partner who cheated?" to a question
    # about a breakup, "Why do I bring anger from a past relationship into my new one?" to one about saving a
    # marriage.
    "infidelity": (
        r"\b(?:cheat\w*|affairs?|unfaithful|infidelity)\b",
        r"\b(?:cheat\w*|affairs?|unfaithful\w*|infidelit\w*|betray\w*"
        r"|(?:an)?other (?:woman|women|man|men|girls?|guys?|person|people)|someone else|seeing someone|sleeping with"
        r"|slept with|sleeps with|hook(?:ed|ing|s)? up|flirt\w*"
        r"|dating (?:sites?|apps?|websites?|profiles?)|texting (?:another|other|some)|messing around|sexting|tinder"
        r"|lover|mistress|open relationship"
        r"|tromp\w*|infidél\w*|liaison|maîtresse|amant\w*)\b",
    ),
    "anger": (
        r"\b(?:anger|angry|temper|rage)\b",
        r"\b(?:anger|angry|angr\w*|mad|madder|rage|raging|temper\w*|furious|fury|irritab\w*|irritat\w*|snap\w*|yell\w*"
        r"|scream\w*|shout\w*|explod\w*|explosive|outbursts?|frustrat\w*|resent\w*|annoy\w*|hate|hatred|hit|hits"
        r"|hitting|punch\w*|slam\w*|throw\w*|threw|fight\w*|argu\w*|violen\w*|aggress\w*|lash\w*|blow(?:ing)? up"
        r"|blew up|pissed|upset|hostil\w*|abus\w*|bitter\w*|hurt\w*|snippy|short[- ]tempered|impatien\w*"
        r"|colère|fâché\w*|enragé\w*|crie\w*|chicane\w*|violence)\b",
    ),
}
# The question words include French ones: the sections are English, but a question in French raises its themes too.
# Themes read from the section's own heading only: an FAQ page's title lists its subjects ("family, parenting and
# anger"), not what each of its sections is about.
_SECTION_ONLY = {"anger"}
_THEME_HEADINGS = {theme: re.compile(h, re.I) for theme, (h, _) in _THEMES.items()}
_THEME_WORDS = {theme: re.compile(q, re.I) for theme, (_, q) in _THEMES.items()}


def themes_unraised(title: str, section: str, question: str) -> set[str]:
    """The heavy themes an article or section is about, by its headings, that the question does not raise."""
    heading = f"{title} > {section}"
    return {
        t
        for t, p in _THEME_HEADINGS.items()
        if p.search(section if t in _SECTION_ONLY else heading) and not _THEME_WORDS[t].search(question)
    }


# What to do in a crisis: right beside a crisis panel, never in the answer to a question that is not a crisis
# (the panel, shown first when there is one, already says it, and so does every answer's disclaimer).
_CRISIS_INSTRUCTION = re.compile(
    r"9-8-8|\b988\b|\b911\b|\bcrisis (?:line|helpline|centre|center)s?\b|\bemergency (?:department|room|number)\b"
    r"|\banything (?:you|they) might use to (?:hurt|harm)\b"
    r"|\bif you are (?:thinking about|having thoughts of) (?:suicide|ending your life|killing yourself)\b"
    r"|\bplease (?:reach out|get help|call) (?:now|right away|today)\b",
    re.I,
)


def is_crisis_instruction(sentence: str) -> bool:
    """ "If you are thinking about suicide, call or text 9-8-8": crisis guidance, which belongs in the panel."""
    return bool(_CRISIS_INSTRUCTION.search(sentence))


_ABOUT_CRISIS = re.compile(
    r"suicid\w*|9-8-8|\b988\b|\b911\b|self[- ]?harm\w*|\bcrisis\b|\bwants? to die\b|overdos\w*|\bhelpline\b", re.I
)


def asks_about_crisis(question: str) -> bool:
    """A question about suicide, self-harm or crisis help ("what happens when I call 9-8-8?"), whose answer may
    quote crisis guidance."""
    return bool(_ABOUT_CRISIS.search(question))


# Acts between two people whose heading says who does them: "Why do I keep cheating?" is for the one who cheats,
# "How do I forgive a partner who cheated?" for the one cheated on. Quoted to the other side, the section casts the
# visitor in a role they never described ("why you cheated" to someone whose partner did).
_ACTS = {
    "cheat": r"cheat\w*|affairs?|unfaithful|infidelity",
    "jealous": r"jealous\w*|possessive\w*|suspicio\w*|suspect\w*|accus\w*",
    "lost-feelings": r"(?:fall|fell|falling|fallen) out of love|(?:lost|losing) (?:\w+ )?(?:feelings|interest)"
    r"|stopped loving",
    "lie": r"lies|lied|lying|liar|dishonest\w*",
    "control": r"controlling|possessive",
    "yell": r"yell\w*|scream\w*|shout\w*|calls? me names|name[- ]calling|silent treatment",
    "leave": r"threaten\w* to leave|left me|dumped me|broke up with me|(?:wants?|asked for) (?:a )?divorce",
    "desire": r"enjoy sex|wants? sex|(?:interest|interested) in sex|sex drive|libido|sexual desire"
    r"|sexually perform\w*|perform\w* sexually|perform\w* in bed|erectile",
}
_ACT_WORDS = {act: re.compile(rf"\b(?:{words})\b", re.I) for act, words in _ACTS.items()}
_PEOPLE = (
    r"partners?|husband|wife|boyfriend|girlfriend|bf|gf|spouse|fianc\w*|ex|mom|mum|mother|dad|father|parents?|son"
    r"|daughter|child|kids?|friends?|boss|coworker|sister|brother|family|in-laws?"
)
# The people a clause can name: the visitor (first person; "you" in a heading, which speaks to the reader), someone
# else, or anyone at all ("after someone cheats"), which names no side.
_SELF = re.compile(r"\b(?:i|i'm|i've|i'd|i'll|myself)\b(?! mean\b)", re.I)
# "accuses me of cheating", "thinks I'm lying": what the visitor is suspected of, which no heading's side fits
_SUSPECTED = re.compile(
    r"(?<!\bi )(?<!\bi'm )\b(?:accus\w*|suspects?|suspected|suspecting|thinks?|thought|believes?|convinced) (?:that )?"
    r"(?:me (?:of|for) |i'm |i am |i was |i've been |i )$",
    re.I,
)
_HEADING_SELF = re.compile(r"\b(?:you|you're|you've|yourself)\b(?! (?:\w+ )?(?:" + _PEOPLE + r")\b)", re.I)
_OTHER = re.compile(
    r"\b(?:he|she|they|him|her|them|he's|she's|they're|(?:my|your|our|his|her|their|a|the) (?:\w+ )?(?:"
    + _PEOPLE
    + r")(?:'s)?)\b",
    re.I,
)
_ANYONE = re.compile(r"\b(?:someone|somebody|anyone|people|a person|one of us)\b", re.I)
# "cheated on me", "yells at me", "left me": the visitor is the one it was done to
_ON_ME = re.compile(r"^\s*(?:(?:on|at|to|with|for) )?me\b", re.I)
_PASSIVE = re.compile(r"\b(?:was|were|been|got|get|being|am|'m|is|are)\s*$", re.I)  # "I was cheated on"
_THEIR_EX = re.compile(r"\b(?:his|her|their|(?:partner|husband|wife|boyfriend|girlfriend|spouse)'s) ex\b", re.I)
_MY_EX = re.compile(r"\b(?:my|an?) ex\b", re.I)


def _actor(before: str, after: str, heading: bool) -> str | None:
    """Who does an act: the last person named before it in its sentence, 'self', 'other' or None (no one, or anyone);
    "... on me" after it makes it someone else, and "accuses me of ..." makes it 'suspected' (of the visitor)."""
    if _SUSPECTED.search(before):
        return "suspected"
    if _ON_ME.search(after) or (_PASSIVE.search(before) and re.match(r"\s*on\b", after)):
        return "other"
    found: list[tuple[int, str | None]] = [(m.end(), "self") for m in _SELF.finditer(before)]
    found += [(m.end(), "other") for m in _OTHER.finditer(before)]
    found += [(m.end(), None) for m in _ANYONE.finditer(before)]
    if heading:
        found += [(m.end(), "self") for m in _HEADING_SELF.finditer(before)]
    return max(found, key=lambda f: f[0])[1] if found else None


def acts_by_actor(text: str, heading: bool = False) -> dict[str, set[str]]:
    """The acts between people a text names (cheating, jealousy, lost feelings, lying, control, yelling, leaving,
    desire, and whose ex it is), each with who does it: 'self' (the visitor; in a heading, the reader), 'other', or
    'suspected' (the visitor, of an act they are accused of)."""
    found: dict[str, set[str]] = {}
    for sentence in re.split(r"[.!?;>\n]+", text):
        for act, pattern in _ACT_WORDS.items():
            for m in pattern.finditer(sentence):
                who = _actor(sentence[: m.start()], sentence[m.end() :], heading)
                if who is not None:
                    found.setdefault(act, set()).add(who)
        if _THEIR_EX.search(sentence):
            found.setdefault("ex", set()).add("other")
        elif re.search(r"\bmy ex\b", sentence, re.I) or (not heading and _MY_EX.search(sentence)):
            found.setdefault("ex", set()).add("self")  # a heading's "an ex" is anyone's
    return found


def acts_reversed(title: str, section: str, question: str) -> set[str]:
    """The acts a section's headings give to one side that the question gives only to the other ("Why do I keep
    cheating?" to "my husband cheated"; "my partner isn't over their ex" to "my ex keeps texting")."""
    written = acts_by_actor(f"{title} > {section}", heading=True)
    asked = acts_by_actor(question)
    return {act for act, who in written.items() if act in asked and not who & asked[act]}
