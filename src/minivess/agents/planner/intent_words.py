"""The intents and the words that mark each one, in the priority order `intents.classify` checks them."""

from __future__ import annotations

import re
from typing import Final, Literal

from minivess.agents.planner.lexicon import FAMILY_ALT, NUMBER_WORDS

_I: Final = re.I

Intent = Literal[
    "describe_warehouse", "synthesize", "dataset_info", "train", "predict", "registry", "promote", "curves",
    "compare", "sql", "failures", "param_effect", "evaluate", "get_run", "leaderboard",
    "quality_gate", "soup", "conformal", "calibrate", "ensemble",
    "import_reviews", "review_status", "queue_review", "label_issues", "search_status", "start_search",
    "model_card", "check_drift",
]  # fmt: skip


def _compile(pairs: tuple[tuple[Intent, str], ...]) -> tuple[tuple[Intent, re.Pattern[str]], ...]:
    return tuple((intent, re.compile(pattern, _I)) for intent, pattern in pairs)


_NUM_WORDS: Final = "two|three|four|five|six|seven|eight|nine|ten"
INTENTS: Final = _compile(
    (
        ("model_card",  # before promote: "make a model card for the champion" is no promotion
         r"\bmodel[\s-]?cards?\b|\bmodel'?s\s+card\b|\b(?:write|make|generate|create|draft)\s+(?:the\s+|a\s+)?card\b|\bcard\s+(?:of|for)\s+(?:the\s+|our\s+|this\s+|that\s+)?(?:model|champion|challenger|run)\b"
         r"|\bdocument\s+(?:the\s+|our\s+|this\s+|that\s+|my\s+|its\s+)?(?:\w+\s+){0,2}?(?:model|champion|challenger|run)\b"
         r"|\bcard\s+(?:of|for)\s+[A-Za-z][\w.-]*(?:\s+version\s+|\s*@\s*|\s+v)\d+\b"
         r"|\bcard\s+(?:of|for)\s+(?:whatever|whichever)\s+(?:is|was)\b"
         r"|\bcard\s+(?:of|for)\s+(?:the\s+)?registered\s+version\b"
         r"|\bcard\s+documenting\b|\bmitchell[\s-]+(?:et\s+al\.?\s+)?(?:style\s+)?card\b"),
        ("check_drift",  # before compare and dataset_info: "compare data/new with data/old for drift"
         r"(?<![\w/.~-])drift(?:ed|ing|s)?(?![\w/.-])|\bdrift[\s-]check\w*\b|(?<![\w/.~-])(?:distribution|covariate|domain|dataset)\s+shift(?![\w/.-])"
         r"|(?<![\w/.~-])out[\s-]of[\s-]distribution(?![\w/.-])|\bcheck_drift\b|\bstill\s+in[\s-]distribution\b"
         r"|[/~].{0,60}\b(?:differ(?:s|ent)?|deviates?)\s+(?:from|than|to)\b.{0,10}[/~]"
         r"|\b(?:folder|dataset|data|batch)\b.{0,20}\b(?:differ(?:s|ent)?|deviates?)\s+from\b.{0,40}\btraining\s+(?:set|data)\b"
         r"|[/~]\S*\s+(?:\w+ly\s+)?(?:shifted|drifted|drifting)\s+(?:relative\s+to|compared\s+(?:to|with)|from|vs\.?"
         r"|versus|against)\b"
         r"|[/~].{0,80}\bwhat\s+(?:the\s+)?[\w'-]+(?:\s+\w+)?\s+(?:was|were)\s+trained\s+on\b"),
        ("describe_warehouse",
         r"\b(?:what|which|list|show|describe|tell\s+me|dump|print|explain)\b.{0,40}\b(?:tables|columns|schema|fields)\b"
         r"|\b(?:describe|explain|schema\s+of)\s+(?:the\s+)?(?:run\s+)?warehouse\b"
         r"|\bwarehouse\s+(?:schema|tables|columns)"
         r"|\bwhat\s+can\s+i\s+query\b|\bwhat(?:'s|\s+is)\s+in\s+the\s+warehouse\b"
         r"|\bwhat\s+does\s+(?:the\s+|our\s+)?(?:runs?\s+)?(?:database|db|warehouse)\s+look\s+like\b"
         r"|\b(?:database|db|warehouse)\s+(?:schema|structure|layout)\b|\bwhich\s+tables\b"
         r"|^\s*(?:the\s+)?schema\b"),
        ("quality_gate",
         r"\bweight[\s_-]?watcher\b|\bquality[\s_-]+gate\b|\bweights?\s+(?:quality|health|check|diagnostics?|analysis)\b"
         r"|\b(?:check|inspect|analy[sz]e|audit|examine|test)\s+(?:the\s+)?(?:\w+\s+)?weights\b"
         r"|\bweights\b.{0,40}\b(?:healthy|unhealthy|sane|ok(?:ay)?|fine|degenerate|well[\s-]+trained|heavy[\s-]tailed)\b"
         r"|\b(?:spectral|power[\s-]law)\s+(?:analysis|check|alphas?|gate)\b|\bweights?\s+gate\b"
         r"|\b(?:sanity[\s-]check|check|inspect|audit)\b.{0,40}\blayer\s+weights\b"
         r"|\bweights\b.{0,30}\bany\s+good\b|\bweight\s+(?:spectr\w*|gate)\b"
         r"|\b(?:healthy|unhealthy|sane|degenerate|broken)\s+weights\b|\blayer\s+alphas?\b"
         r"|^\s*gate\b|^\s*weight[\s-]gate\b"),
        ("soup",
         r"\bsoupe?(?:s|ed|ing)?\b(?!'s)|\b(?:epochs|checkpoints)\b.{0,30}\baverag\w*|\baverag\w*\s+(?:the\s+)?(?:weights\s+of\s+(?:the\s+|its\s+)?)?(?:epoch\s+)?checkpoints\b"
         r"|\bweight[\s-]+averag\w*\b.{0,40}\b(?:checkpoints|epochs)\b"
         r"|\baverag\w*\s+(?:the\s+)?(?:epoch|checkpoint)\s+weights\b"),
        ("conformal",
         r"\bconformal\w*|\bfalse[\s-]+negative(?:s|\s+rate)?\b|\bfnr\b|\bmiss[\s-]+rate\b|\brisk[\s-]+control\w*"
         r"|\bmiss(?:es|ing|ed)?\s+(?:at\s+most|no\s+more\s+than|(?:less|fewer)\s+than|under|below|only|up\s+to)\b"
         r"|\bnot\s+miss\s+more\s+than\b"
         r"|\b(?:cut-?off|threshold)\b.{0,40}\blos(?:e|es|ing)\s+(?:no\s+more\s+than|at\s+most|only|up\s+to)\b"
         r"|\b(?:vessels?|vessel\s+voxels|voxels)\s+(?:are\s+|is\s+|get\s+|gets\s+)?(?:missed|lost)\b"
         r"|\b(?:missed|lost)\s+(?:vessels?|vessel\s+voxels)\b"
         r"|\blos(?:e|es|ing)\s+(?:only\s+|at\s+most\s+|up\s+to\s+)?\S+\s*(?:%|percent)?\s+of\s+(?:the\s+)?"
         r"(?:vessels?|vessel\s+voxels)"),
        ("calibrate",
         r"\b(?:re-?|mis-?)?calibrat\w*\b(?!\s+(?:split|set|partition|fold|data|volumes))"
         r"|\b(?:over|under)[\s-]?confiden\w*|\btoo\s+(?:confident|sure)\b|\btemperature(?:[\s-]+scal\w*)?\b|\btemp[\s-]?scal\w*\b|\breliability\s+(?:diagram|curve|plot)s?\b"
         r"|\bexpected\s+calibration\s+error\b|\bece\b"
         r"|\b(?:reliable|trustworthy|trust)\b.{0,40}\b(?:probabilit\w*|confidences?)\b"
         r"|\b(?:probabilit\w*|confidences?)\b.{0,40}\b(?:reliable|trustworthy)\b"),
        ("ensemble",
         r"\bensembl\w*|\bmajority[\s-]+vot\w*|\b(?:soft|hard)[\s-]+vot\w*"
         r"|\bvote\b.{0,40}\b(?:runs|models|masks)\b|\b(?:runs|models)\b.{0,40}\bvote\b"
         r"|\bvot(?:e|ing)\s+(?:between|among|across|over|of)\b"
         r"|\baverag\w*\s+(?:the\s+)?(?:predictions|probabilities|outputs|masks)\s+of\b"
         rf"|\b(?:top|best)\s+(?:\d+|{_NUM_WORDS})\b.{{0,40}}\b(?:averag\w*|mean|combined?)\s+(?:their\s+)?(?:probabilit\w*|predictions|outputs)\b"
         rf"|\b(?:average|combine)\s+(?:(?:the|our|my|all)\s+)?(?:(?:\d+|{_NUM_WORDS}|top|best|last|latest)\s+){{1,3}}"
         rf"(?:runs|models|(?:{FAMILY_ALT})s)\b"),
        ("synthesize",
         r"\b(?:generate|synthesi[sz]e|synth)\b(?=.*\b(?:n|shape|preset|name|seed)\s*=)|"
         r"\bgen\s+(?:a|an|some|\d+)\b.{0,40}\b(?:sets?|volumes?|data(?:set)?)\b"
         r"|\b(?:shifted|noisy_labels|small|minivess)[\s-]+preset\s+synthetic\b|"
         # "twelve volumes from the noisy_labels preset": a count of volumes from a preset, no verb
         rf"^\s*(?:\d+|{NUMBER_WORDS})\s+(?:\w+\s+)?(?:volumes?|stacks?)\s+(?:from|with|using|of)\s+(?:the\s+)?"
         r"[\w-]+\s+preset\b|"
         r"\b(?:generate|synthesi[sz]e|synth|simulate|create|make|produce|render)\b.{0,60}"
         r"\b(?:volumes?|datasets?|data|images?|samples?|stacks?|cases?|cubes?)\b"
         r"|\b(?:generate|synthesi[sz]e)\b.{0,30}\b(?:copy|copies|version|variant)\b"
         r"|\bsynthetic\s+(?:data|dataset|data\s+set|set|volumes?)\s+(?:with|of|please|for)\b"
         r"|\b(?:make|create|generate|build|give)\b.{0,30}\bsynthetic\s+(?:dataset|data\s*set|set)(?:\s*[:,(]|\s+(?:called"
         r"|named|with|of)\b)"
         r"|\b(?:fake|simulated|artificial|dummy|toy|mock)\s+(?:[\w-]+\s+)?(?:volumes?|datasets?|data|stacks?|images?)\b"
         r"|\b(?:need|want|give\s+me|get\s+me)\b.{0,30}\b(?:shifted|noisy|synthetic|small|new)\b.{0,30}"
         r"\b(?:datasets?|data|sets?|volumes?)\b"),
        # Model search: "search"/"sweep"/"tuning" with a model or hyper-parameter noun, or "look for a better model".
        ("search_status",
         r"\b(?:optuna|asha|search|sweep|tuning)\b.{0,30}\b(?:made|making)\s+(?:any\s+)?progress\b|"
         r"\b(?:model\s+|hyper-?parameter\s+|nightly\s+|hpo\s+)?(?:search|sweep|tuning)\s+(?:status|progress)\b"
         r"|\b(?:status|progress)\s+of\s+(?:(?:the|my|our|last|latest|newest)\s+){0,2}(?:model\s+|hyper-?parameter\s+|nightly\s+)?"
         r"(?:search|sweep|tuning)\b"
         r"|\bhow(?:\s+is|\s*'s|\s+did|\s+was)\s+(?:the\s+|my\s+|our\s+|last\s+night'?s?\s+|the\s+nightly\s+)?(?:model\s+|"
         r"hyper-?parameter\s+|nightly\s+)?(?:search|sweep|tuning)\b"
         r"|\b(?:is|has)\s+the\s+(?:model\s+|nightly\s+|hyper-?parameter\s+)?(?:search|sweep|tuning)\b.{0,20}"
         r"\b(?:done|finished|over|running|complete)\b"
         r"|\b(?:news|updates?|progress)\s+(?:on|from|about)\s+(?:the\s+|my\s+|our\s+)?(?:latest\s+|newest\s+|last\s+|running\s+"
         r"|current\s+|ongoing\s+)?"
         r"(?:model\s+|hyper-?parameter\s+|nightly\s+)?(?:search|sweep|tuning)\b"
         r"|\btrials?\s+(?:of|in)\s+(?:the\s+)?(?:latest\s+|newest\s+|last\s+|current\s+)?(?:search|sweep)\b.{0,40}"
         r"\b(?:finished|done|complete|ran|run)\b|\b(?:search|sweep)\s+(?:[A-Za-z]\w*-)?\d{8}-\d{4}"
         r"|\b(?:did|has|is)\s+the\s+(?:latest|last|current|running|newest|nightly|most\s+recent)\s+"
         r"(?:model\s+|hyper-?parameter\s+)?(?:search|sweep|tuning)\b.{0,20}\b(?:done|finish\w*|over|complete\w*|end\w*)\b"
         r"|\bcheck\s+(?:in\s+)?on\s+(?:the\s+|my\s+|our\s+)?(?:latest\s+|last\s+|current\s+|running\s+|newest\s+|nightly\s+"
         r"|most\s+recent\s+)?(?:model\s+|hyper-?parameter\s+)?(?:search|sweep|tuning)\b"
         r"|\b(?:which|what)\s+trials?\b"
         r"|\b(?:search|sweep)\s+(?=[\w-]*\d)[a-z][\w-]*\d[\w-]*\b.{0,30}\b(?:where|status|progress|how|done|finished)\b"
         r"|\bsearch_status\b"),
        ("start_search",
         r"\b(?:hyper-?parameter|model|architecture|nightly|automated|auto)\s*-?\s*(?:search|sweep|tuning|optimi[sz]ation"
         r"|hunt)\b|\bhpo\b|(?<!\bthat )(?<!\bthis )(?<!\brunning )(?<!\bcurrent )(?<!\bongoing )(?<!\blatest )"
         r"(?<!\bhparam )\bsweep\b"
         r"|\b(?:search|look|hunt|shop)(?:ing|ping)?\s+(?:around\s+)?for\s+(?:a\s+)?better\s+(?:\w+\s+)?(?:models?|config\w*|"
         r"hyper-?parameters?|settings|setup|segmenter)\b"
         r"|\b(?:tune|optimi[sz]e)\s+(?:the\s+)?hyper-?parameters?\b|\btune\b.{0,60}\btrials?\b"
         r"|\b(?:run|start|launch|do|kick\s+off)\s+(?:a\s+|an\s+)?(?:new\s+)?(?:[\w-]+\s+){0,2}search\b"
         r"|\bsearch\s+(?:over|across|among|through)\b"
         # "a 30 min search", "a 25-minute search", "search 45 min over …", "a dozen trials of a dynunet-only search"
         r"|\b\d+(?:\.\d+)?\s*-?\s*(?:min(?:ute)?s?|h(?:ou)?rs?|h)\s+(?:long\s+)?search\b"
         r"|^\s*search\s+(?:for\s+)?\d+(?:\.\d+)?\s*(?:min(?:ute)?s?|h(?:ou)?rs?|h)\b"
         r"|\btrials?\s+of\s+(?:a|an|the)\s+(?:[\w-]+\s+){0,2}search\b"
         rf"|^\s*search\s+(?:(?:only|just)\s+)?(?:(?:{FAMILY_ALT})\b|the\s+(?:families|models))"),
        # The review loop (find_label_issues → queue_for_review → review_status → import_reviews): its nouns
        # (labels, slices, reviews, Label Studio) decide it, so "errors" alone stays a failure question and "status"
        # alone a run's details.
        ("import_reviews",
         r"\b(?:pull|bring|take|fold)\s+in\s+(?:the\s+)?(?:reviewed|corrected|fixed|relabell?ed)\b|\bimport\w*\b.{0,50}\b(?:reviews?|reviewed|corrections?|corrected|fix(?:es|ed)?|annotations?|masks?"
         r"|labels?|label[\s-]?studio)\b"
         r"|\b(?:bring|get|load|apply|merge|take|pull|fetch)\b.{0,40}\b(?:corrected|fixed|reviewed|relabell?ed)\s+"
         r"(?:masks?|labels?|slices?|annotations?|segmentations?)\b"
         r"|\b(?:bring|get)\b.{0,30}\b(?:reviews?|corrections?|label\s+fixes)\s+back\b"
         r"|\b(?:bring|get|grab|pull|fetch|collect)\b.{0,40}\b(?:fix(?:es)?|corrections?|annotations?|reviews?|masks?)\b"
         r".{0,10}\bback\b"
         r"|\b(?:grab|get|pull|fetch|collect|take|bring)\b.{0,20}\b(?:completed|finished|done)\s+(?:annotations?|reviews?"
         r"|corrections?)\b"
         r"|\bimport\s+(?:them|those|these)\b"
         # "grab the annotators' fixes for X", "fold the completed Label Studio corrections into a new version"
         r"|\b(?:grab|get|pull|fetch|collect|bring)\s+(?:in\s+)?(?:(?:all|the|their|her|his|my)\s+)?"
         r"(?:annotators?|reviewers?|labell?ers?|students?)'?s?'?\s+(?:fixes|corrections|reviews|annotations|work)\b"
         r"|\bfold\b.{0,60}\b(?:corrections|fixes|reviews|annotations)\s+into\b"
         r"|\b(?:bring|pull|get)\s+(?:the\s+|their\s+|her\s+|his\s+)?(?:fixes|corrections|reviews|annotations)\s+in\b"
         r"|\bimport\s+(?:whatever|what|everything|all)\b.{0,20}\b(?:finished|done|complete[d]?|reviewed|ready)\b"
         r"|\b(?:apply|merge)\s+(?:the\s+|all\s+)?(?:finished\s+)?(?:reviews?|corrections?|label\s+fixes)\b"
         # "bring the label fixes for data/x in as a new dataset version", "pull those reviews in as a new version"
         r"|\b(?:bring|pull|get|take)\b.{0,50}\b(?:fixes|corrections|reviews|annotations)\b.{0,40}\bin\s+as\s+(?:a\s+)?new\b"
         r"|\b(?:corrections?|reviews?|annotations?|fixes)\b.{0,30}\b(?:finished|done|complete)\b.{0,40}\bimport\b"),
        ("review_status",
         r"\b(?:review|annotation|labell?ing|label[\s-]?studio|correction)\s+(?:status|progress)\b"
         r"|\bstatus\s+of\s+(?:the\s+)?(?:reviews?|annotations?|label[\s-]?studio|review\s+queue|labell?ing)\b"
         r"|\bhow(?:\s+is|\s+are|\s*'s)\s+(?:the\s+)?(?:reviews?|reviewing|annotations?|labell?ing|reviewers?|corrections?"
         r"|review\s+queue)\s+(?:going|doing|coming(?:\s+along)?|progressing|getting\s+on)\b"
         r"|\bhow\s+(?:many|much|far)\b.{0,50}\b(?:reviewed|left\s+to\s+review|pending\s+review|still\s+pending"
         r"|(?:been\s+)?(?:corrected|annotated))\b"
         r"|\b(?:are|is|have)\s+(?:the\s+)?(?:reviews?|reviewers?)\b.{0,20}\b(?:done|finished|complete|ready)\b"
         r"|\bhow\s+far\s+(?:along\s+)?(?:is|are)\s+(?:the\s+)?(?:reviews?|reviewing|annotations?|labell?ing"
         r"|reviewers?|corrections?|annotators?|labell?ers?)\b"
         r"|\bany\s+(?:reviewed|corrected|annotated)\s+(?:slices?|masks?|labels?)\s+(?:yet|so\s+far)\b"
         r"|\bhow\s+far\s+(?:have|has)\s+(?:the\s+)?(?:reviewers?|annotators?|labell?ers?)\b"
         r"|\b(?:waiting|pending|queued)\s+for\s+(?:human\s+)?review\b|\bstill\s+(?:waiting|pending|to\s+be\s+reviewed)\b"
         r"|\b(?:annotators?|reviewers?|labell?ers?)\b.{0,30}\b(?:finished|done|complete|through)\b"
         r"|\breviews?\b.{0,40}\b(?:done|finished|complete|pending)\b"
         r"|\blabel[\s-]?studio\s+(?:tasks?|project)\b.{0,40}\b(?:finished|done|complete|ready|status|progress)\b"
         r"|\bhow\s+(?:is|are|'s)\s+(?:the\s+)?(?:reviews?|annotations?|labell?ing)\b.{0,60}\b(?:going|coming\s+along"
         r"|progressing|getting\s+on)\b"
         r"|\bhow\s+many\b.{0,50}\b(?:skip(?:ped|s)?|still\s+open)\b"
         r"|\b(?:progress|news|updates?|word)\s+(?:from|of|on|about)\s+(?:the\s+|our\s+|my\s+)?(?:annotators?|reviewers?"
         r"|labell?ers?|reviews?|annotations?|labell?ing)\b"
         # "has the annotator made progress", "reviewed vs pending counts", "what's left unreviewed", "reviewer status"
         r"|\b(?:annotators?|reviewers?|labell?ers?)\b.{0,20}\b(?:made|making)\s+(?:any\s+)?progress\b"
         r"|\breviewed\s+(?:vs\.?|versus|and|/)\s+pending\b|\b(?:left|still)\s+unreviewed\b|\bunreviewed\b"
         r"|\b(?:reviewer|annotator|labell?er)s?\s+(?:status|progress)\b"
         r"|\bpending\s+(?:review\s+|label[\s-]?studio\s+)?tasks?\b|\breview\s+tasks?\b.{0,20}\b(?:left|pending|open)\b"
         r"|\blabel[\s-]?studio\s+backlog\b|\breview\s+backlog\b"),
        ("queue_review",
         r"\bqueue(?!d\b)\w*\b.{0,60}\b(?:reviews?|reviewers?|slices?|label[\s-]?studio|annotat\w*|suspicious)\b"
         r"|\b(?:send|push|put|add|upload|submit|hand)\b.{0,60}(?:\blabel[\s-]?studio\b|\b(?:for|to)\s+(?:human\s+|manual\s+"
         r"|expert\s+)?review\b|\b(?:review|annotation|labell?ing)\s+queue\b|\breviewers?\b|\b(?:annotators?|labell?ers?)\b)"
         r"|\b(?:slices?|them|masks?|labels?)\s+(?:up\s+)?for\s+(?:human\s+|manual\s+|expert\s+)?review\b"
         r"|\bqueue\b.{0,40}\btop[_\s-]?k\b|\bslices?\b.{0,30}\b(?:into|to|in)\s+label[\s-]?studio\b"
         r"|\bgive\s+(?:her|him|them|the\s+(?:annotators?|reviewers?))\b.{0,40}\bslices?\b"
         rf"|^\s*queue\s+(?:\d+|{_NUM_WORDS})\s+more\b"
         r"|\bslices?\s+(?:in)?to\s+the\s+(?:review|annotation|labell?ing)\s+queue\b"),
        ("label_issues",
         r"\bmis-?label(?:l?ed|l?ing|s)?\b|\bcleanlab\b|\blabel[\s-]+quality\b|\blabel[\s-]issues?\s+(?:scan|search|check|sweep|hunt)\b"
         r"|\blabels?\s+(?:check|audit|cleaning|clean[\s-]?up|scan)\b"
         r"|\b(?:label|labell?ing|annotation|mask|ground[\s-]truth)s?\s+(?:issues?|errors?|mistakes?|problems?"
         r"|faults?|inconsistenc(?:y|ies))\b"
         r"|\b(?:suspicious|suspect|dubious|questionable|doubtful)\s+(?:labels?|masks?|slices?|annotations?)\b"
         r"|\b(?:find|detect|spot|flag|look\s+for|search\s+for|identify|which|any|show|list|are\s+there|scan|hunt"
         r"|check)\b.{0,40}"
         r"\b(?:wrong|bad|incorrect|faulty|erroneous|noisy|broken)\s+(?:\w+\s+)?(?:labels?|masks?|annotations?)\b"
         r"|\b(?:check|verify|audit|inspect|validate|review|vet)\s+(?:the\s+)?(?:labels?|masks?|annotations?"
         r"|ground[\s-]truth)\b(?!\s+(?:loss|noise))"
         r"|\blabels?\b.{0,40}\b(?:wrong|incorrect|errors?|mistakes?)\b"
         r"|\b(?:are|is)\s+(?:the\s+|our\s+|my\s+)?(?:labels?|masks?|annotations?|ground[\s-]truth)\b.{0,40}"
         r"\b(?:noisy|wrong|correct|right|accurate|reliable|trustworthy|clean)\b"
         # "I suspect bad annotations in data/x", "which annotations look wrong?"
         r"|\b(?:suspect|think\s+there\s+are|there\s+(?:are|may\s+be|might\s+be))\s+(?:some\s+)?(?:bad|wrong|incorrect|faulty"
         r"|broken|noisy)\s+(?:labels?|masks?|annotations?)\b"
         r"|\b(?:which|what)\s+(?:labels?|masks?|annotations?)\s+(?:look|looks|seem|are|might\s+be)\s+(?:wrong|bad|off"
         r"|incorrect|suspicious|dodgy)\b"),
        ("dataset_info",
         r"\b(?:describe|inspect|validate|check|summari[sz]e|show|info|details?|stats|statistics|look\s+at|list"
         r"|what(?:'s|\s+is)\s+in|tell\s+me\s+about)\b.{0,40}\b(?:dataset|data\s+(?:folder|dir\w*|set)|volumes"
         r"|the\s+data\b)|\bhow\s+many\s+(?:volumes|images|scans|samples|cases|stacks)\b"
         r"|\bdataset\s+(?:info|summary|details|stats|statistics)\b"
         r"|\bhow\s+(?:big|large)\s+is\s+(?:the\s+|our\s+)?(?:dataset|data)\b"
         r"|\bdataset\b.{0,40}\blook\s+like\b|\b(?:the\s+)?dataset\s+(?:at|in)\s+\S*/|\bwhat(?:'s|\s+is)\s+in\s+\S+/"
         r"|\bwhat(?:'s|\s+is)\s+in\s+['\"`]?(?=[\w.-]*[_\d])[A-Za-z][\w.-]*['\"`]?\s*(?:$|[,;.?!]|\s+(?:then|and)\b)"
         r"|\b(?:voxel\s+)?spacings?\b|\bvoxel\s+(?:size|sizes|resolution)\b"
         r"|\b(?:vessel|foreground)\s+(?:fraction|ratio|share|density)\b|\bclass\s+(?:balance|imbalance)\b"
         r"|\b(?:validate|check|inspect|describe)\s+(?:the\s+|that\s+|this\s+)?(?:folder|directory|dir)\b"
         r"|\b(?:folder|directory|dataset|data)\s+(?:layout|structure)\b|\blaid\s+out\b"
         r"|\b(?:validate|check|inspect|describe|look\s+at)\s+['\"`]?(?:~|\.{1,2})?/?(?:[\w.-]+/)+[\w.-]*(?![\w.]*\.nii)"),
        ("train",
         r"(?<!\bon )(?<!\bon the )(?<![=/])\b(?:re-?)?(?:train|trian)\b(?![/\w]|\s*(?:ing\s+)?(?:loss|set|split"
         r"|data\b|dice|metrics?|curves?|volumes|time|history|logs?))"
         r"|\brun\s+(?:a|an|another|one|some)\s+(?:\w+\s+){0,3}?(?:training|experiment|job)\b"
         r"|\b(?:start|restart|launch|kick\s*off|kick|begin|do|schedule|queue|fire\s+off|spin\s+up)\s+(?:\w+\s+){0,4}?"
         r"(?:training|experiment|job|fit|(?:new\s+)?run)\b(?!\s+(?:curves?|loss|history|\d|[0-9a-f]{6}))"
         rf"|\btraining\s+(?:a\s+|an\s+|the\s+|another\s+"
         rf"|new\s+)?(?:{FAMILY_ALT})|\b(?:try|fit)\b.{{0,20}}\b(?:{FAMILY_ALT})"
         rf"|\b(?:need|want|like|get)\s+(?:an?\s+|new\s+|fresh\s+)*(?:{FAMILY_ALT})\s+(?:model\s+)?trained\b"
         rf"|\b(?:start|launch|kick\s*off|begin|fire\s+off|spin\s+up)\s+(?:an?\s+|the\s+|new\s+|fresh\s+)*(?:{FAMILY_ALT})"
         rf"|\b(?:new|fresh|another)\s+(?:{FAMILY_ALT})\s+(?:training\s+)?(?:run|training|experiment|job)\b"),
        ("predict",
         r"\b(?:segment|predict|predictions?|infer|inference|apply)\b(?!ation)|\.nii(?:\.gz)?\b"),
        ("registry",
         r"\b(?:who|which|what)(?:'s|\s+is|\s+are|\s+was)?\b.{0,30}\b(?:champion|challenger|aliases|registered)\b"
         r"|\b(?:model\s+registry|registered\s+models?)\b|\bhow\s+many\b.{0,30}\bregistered\b"
         r"|\bmodels?\s+(?:are\s+|is\s+)?registered\b"),
        ("promote",
         r"\bpromote\w*\b|\bregister\b|\b(?:make|set|mark|tag|crown|designate|move|point|use)\b.{0,60}"
         r"\b(?:champion|challenger|production|prod)\b(?!\s+(?:server|endpoint))"
         r"|\b(?:as|to)\s+(?:the\s+)?(?:new\s+)?(?:champion|challenger)\b"
         r"|\b(?:becomes?|is\s+now)\s+(?:the\s+|our\s+)?(?:new\s+)?(?:champion|challenger)\b"
         r"|\b(?:deploy|ship|release|roll\s+out)\b.{0,60}\bto\s+(?:production|prod)\b"
         # "deploy 5f5f5f5f5f": deploy means champion here (the synonym), not a server
         r"|^\s*(?:please\s+)?deploy\s+(?:run\s+)?(?:[0-9a-f]{6,32}\b|it\b|(?:the\s+)?(?:best|last|latest|newest)\b(?:\s+\w+)?|(?:that|this)\s+(?:run|model)\b)"
         r"|\b(?:put|push|move|send|take)\b(?!.{0,60}\bside[\s-]by[\s-]side\b).{0,60}\b(?:in|into|to)\s+(?:production|prod)\b"
         r"|\b(?:swap|switch|change|move|point)\s+(?:the\s+)?(?:champion|challenger)\b.{0,20}\bto\b"
         r"|\b(?:move|point|set|assign|give)\s+(?:the\s+|an?\s+)?[\w-]+\s+alias\b"),
        ("curves",
         r"\bcurves?\b|\bplot\w*\b|\bchart\b|\bgraph\b|\boverfit\w*\b|\bconverg\w*|\bvisuali[sz]e\b|\b(?:training|loss|metric|dice)\s+"
         r"(?:history|progress|trajectory)\b|\bover\s+(?:the\s+)?epochs\b|\bper[\s-]epoch\b"
         r"|\bhow\s+did\s+(?:the\s+)?(?:loss|dice|training)\s+(?:evolve|develop|go|change|progress)"
         r"|\b(?:evolved?|developed)\b.{0,30}\bepoch\s+(?:by|after|to)\s+epoch\b|\bepoch\s+by\s+epoch\b"),
        ("compare",
         r"\bcompar(?:e|ed|es|ing|ison)\b|\bvs\.?(?:\s|$)|\bversus\b|\bdiff(?:erence)?s?\s+between\b"
         r"|\bdiff\b|\bcontrast\b|\bdiffer(?:s|ed)?\b"
         r"|\bwhat\s+(?:\w+\s+)?(?:changed|is\s+different|was\s+different)\s+between\s+(?:runs?\s+)?[0-9a-f]{6}"
         r"|\bside[\s-]by[\s-]side\b|\b(?:stack|measure)s?\s+up\b|\bhead[\s-]to[\s-]head\b"),
        ("failures",
         r"\bfail(?:ed|ing|s|ure|ures)?\b|\bcrash(?:ed|es|ing)?\b|\berror(?:s|ed)?\b|\bbroke(?:n)?\b"
         r"|\bwent\s+wrong\b|\bnan\b|\bdiverg\w*|\bblew\s+up\b|\bexplod\w*"
         r"|\b(?:runs?|jobs?|trainings?|experiments?)\s+(?:\w+\s+)?(?:died|dead)\b"),
        ("param_effect",
         r"\b(?:did|does|do|has|have|(?<!lower\s)(?<!higher\s)(?<!smaller\s)(?<!bigger\s)is|was|will|would|can)\b.{0,60}\b(?:help|helped|helps|matter|matters|mattered"
         r"|improve[sd]?|mak(?:e|es|ing)\s+(?:a|any)\s+difference|made\s+(?:a|any)\s+difference|affect(?:s|ed)?|impact(?:s|ed)?|influence[sd]?|hurt|hurts"
         r"|boost(?:s|ed)?|change[sd]?|worth\s+it|pay\s+off|work\s+better|better|worse|important|significant|relevant|sensitive)\b"
         r"|\b(?:effect|impact|influence|importance|sensitivity)\s+of\b"
         r"|\b(?:which|what|best|optimal|ideal|good)\s+(?:learning[\s-]+rate|lr|loss|patch\s*size|batch\s*size|seed)"
         r"|\bhow\s+much\s+does\b.{0,40}\bmatter"
         r"|\bwhether\b.{0,60}\b(?:helped|helps|mattered|matters|mak(?:es|e|ing)\s+(?:a|any)\s+difference"
         r"|made\s+(?:a|any)\s+difference|improved|improves|changes?)\b"
         r"|\bworth\s+it\b|\b(?:relationship|correlation|relation|link|association)\s+between\b"
         # "show me the lr effect on val_dice"
         r"|\b(?:lr|learning[\s-]rate|loss|batch[\s-]size|patch[\s-]size|seed)\s+effect\b"
         # "break val_cldice down by optim.lr", "dice broken down by batch size"
         r"|\bbreak\b.{0,40}\bdown\s+by\b|\bbroken\s+down\s+by\b|\bbreakdown\s+(?:of\b.{0,40}\s)?by\b"
         r"|\bhow\s+much\s+(?:does|do|did)\b.{0,60}\b(?:change|move|shift|affect|influence|swing)\b"),
        ("evaluate",
         r"\b(?:evaluate|evaluation|eval|assess|benchmark)\b|^\s*(?:please\s+)?test\b"
         r"|\b(?:check|run|try|test|score)\b.{0,40}\bon\s+(?:the\s+)?(?:val(?:idation)?|test|train(?:ing)?|held[\s-]out)"
         r"(?:\s+(?:set|split|data))?\b"
         r"|\btest\s+(?:run|model|it|that|this|the|my|our)\b"
         r"|\bhow\b.{0,60}\b(?:do|does|perform|performs|performed"
         r"|doing|performing|score|scores|fare|fares|work|works)\b"
         r".{0,30}\b(?:test|val|validation|held[\s-]out|training\s+(?:set|split|data))\b"
         r"|\bscore\s+(?:it|that|this|the|run|our|my)\b"
         r"|\bhold(?:s|ing)?\s+up\b.{0,30}\bon\s+(?:the\s+)?(?:held[\s-]out\s+)?(?:test|val|validation|held[\s-]out)\b"
         r"|\bhow\s+(?:good|well|bad|accurate)\s+(?:is|are|was|were)\b.{0,50}\bon\s+(?:the\s+)?"
         r"(?:test|val|validation|held[\s-]out|training\s+(?:set|split|data))\b"
         r"|\bper[\s-](?:volume|case|image|scan)\s+(?:dice|cl[\s-]?dice|hd95|nsd|scores?|metrics|results?)\b"
         r"|\b(?:dice|cl[\s-]?dice|hd95|nsd|scores?|metrics|results?)\s+(?:for\s+each|per)[\s-](?:volume|case|image|scan)\b"
         r"|\b(?:performance|results?|scores?|metrics|dice|cl[\s-]?dice|hd95|nsd)\s+(?:of\s+.{0,40}\s+)?on\s+(?:the\s+)?"
         r"(?:test|val|validation|held[\s-]out)"
         r"|\bwhat\s+(?:score|dice|cl[\s-]?dice|nsd|performance|results?)\b.{0,60}\bon\s+(?:the\s+)?"
         r"(?:test|val|validation|held[\s-]out)\b"),
        ("get_run",
         r"\b(?:details?|info(?:rmation)?|status|params|parameters|config(?:uration)?|hyper[\s-]?param\w*|summary"
         r"|tell\s+me\s+(?:(?:everything|more|all)\s+)?about|describe|show|get|fetch|look\s+up|pull\s+up|bring\s+up|what\s+about|how\s+(?:is|was|did)"
         r"|(?:dump|print|list)\s+everything\s+about|everything\s+(?:there\s+is\s+)?about"
         r"|settings|tags|epochs|what\s+happened\s+(?:to|with)"
         r"|performance|results?|scores?|metrics)\b"),
        ("leaderboard",
         r"\bleader[\s-]?boards?\b|\brank(?:ing|ings|ed)?\b|\bbest\b|\btop\b|\bwinn(?:er|ing)\b|\bstandings\b"
         r"|\bwho\s+wins\b(?!.{0,40}\b(?:or|between|vs\.?|versus)\b)"
         r"|\bwhich\s+(?:model\s+)?(?:model|run|family|architecture|network)\w*\s+(?:is|was|did|does|performs?|scored?|works?|wins?|won"
         r"|gets?|got|achieves?|achieved)\b"
         r"|\b(?:is|are)\s+(?:currently\s+|now\s+|still\s+)?(?:ahead|leading|in\s+the\s+lead|in\s+front|on\s+top)\b"
         r"|\bhighest\b|\blowest\b|\b(?:sort|order)(?:ed)?\s+by\b|\bscoreboard\b|\bstrongest\b"
         r"|\btop[\s-]performing\b|\bbest[\s-]performing\b"),
    )
)  # fmt: skip
INTENTS_BY_NAME: Final = dict(INTENTS)
