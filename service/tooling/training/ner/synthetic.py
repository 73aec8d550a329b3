"""A small generated CLUENER-style corpus (Chinese sentences from templates; entities composed
from character pools, so another seed gives mostly unseen entity strings): enough for a tiny
model to show that training learns, not for real use."""
from __future__ import annotations

import random

from service.tooling.training.ner.data import NerSample

SURNAMES = "张王李刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜洋静明磊丽杰敏强燕军平刚桂英华玉兰"
PLACE = "东南西北中新安平宁昌阳山海江河湖州川云"
PLACE_SUFFIX = ["市", "省", "县", "区"]
FIRM = "华联信达通博远泰丰盛恒瑞宏鑫科创"
FIRM_SUFFIX = ["公司", "集团", "科技", "银行"]
POSITIONS = ["总经理", "工程师", "董事长", "设计师", "记者", "教授", "经理", "主任", "会计", "律师"]
TEMPLATES = [
    "{name}在{address}的{company}担任{position}。",
    "{company}宣布{name}出任{position}，常驻{address}。",
    "据报道，{address}{company}的{position}{name}今天表示。",
    "{name}是{company}的{position}，去年来到{address}。",
    "今年{name}离开{address}，加入{company}做{position}。",
]


def _value(slot: str, rng: random.Random) -> str:
    if slot == "name":
        return rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice([1, 2])))
    if slot == "address":
        return "".join(rng.choices(PLACE, k=2)) + rng.choice(PLACE_SUFFIX)
    if slot == "company":
        return "".join(rng.choices(FIRM, k=2)) + rng.choice(FIRM_SUFFIX)
    return rng.choice(POSITIONS)


def sample(rng: random.Random) -> NerSample:
    """One sentence with its entities labelled where they land."""
    template = rng.choice(TEMPLATES)
    text, label, pos = "", {}, 0
    while pos < len(template):
        start = template.find("{", pos)
        if start < 0:
            text += template[pos:]
            break
        text += template[pos:start]
        end = template.index("}", start)
        slot = template[start + 1:end]
        value = _value(slot, rng)
        label.setdefault(slot, {}).setdefault(value, []).append([len(text), len(text) + len(value) - 1])
        text += value
        pos = end + 1
    return NerSample(text, label)


def corpus(n: int, seed: int = 0) -> list[NerSample]:
    rng = random.Random(seed)
    return [sample(rng) for _ in range(n)]
