//! A tiny assembler: instructions with symbolic, forward-only jump targets, resolved
//! to classic BPF offsets.
//!
//! Conditional jumps have 8-bit offsets. A target further than 255 instructions away
//! gets a trampoline: an unconditional `ja` (32-bit offset) placed right after the
//! jump. Inserting trampolines moves code, so resolution repeats until nothing is too
//! far; it ends because every round only adds trampolines, at most two per jump.

use super::bpf::{Insn, JMP_JA};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(pub(super) u32);

#[derive(Clone, Debug)]
enum Item {
    Insn(Insn),
    Jump {
        code: u16,
        k: u32,
        jt: Label,
        jf: Label,
    },
    Ja(Label),
    Bind(Label),
}

/// An internal error of code generation; always a compiler bug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AsmError {
    #[error("jump backwards to label {0}")]
    Backward(u32),
    #[error("label {0} is never placed")]
    Unbound(u32),
}

#[derive(Debug, Default)]
pub struct Assembler {
    items: Vec<(Item, Option<String>)>,
    next_label: u32,
    count: usize,
}

impl Assembler {
    pub fn label(&mut self) -> Label {
        self.next_label += 1;
        Label(self.next_label)
    }

    pub fn bind(&mut self, label: Label) {
        self.items.push((Item::Bind(label), None));
    }

    pub fn insn(&mut self, insn: Insn, comment: Option<String>) {
        self.count += 1;
        self.items.push((Item::Insn(insn), comment));
    }

    pub fn jump(&mut self, code: u16, k: u32, jt: Label, jf: Label, comment: Option<String>) {
        self.count += 1;
        self.items.push((Item::Jump { code, k, jt, jf }, comment));
    }

    /// Instructions so far (trampolines added by `finish` not counted).
    #[allow(
        clippy::len_without_is_empty,
        reason = "an assembler is never asked whether it is empty"
    )]
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn ja(&mut self, target: Label) {
        self.count += 1;
        self.items.push((Item::Ja(target), None));
    }

    /// Resolves labels; returns the program and a comment per instruction.
    pub fn finish(mut self) -> Result<(Vec<Insn>, Vec<Option<String>>), AsmError> {
        loop {
            let positions = self.positions();
            let mut fixes: Vec<(usize, bool, bool)> = Vec::new();
            let mut pos = 0usize;
            for (index, (item, _)) in self.items.iter().enumerate() {
                match item {
                    Item::Bind(_) => continue,
                    Item::Jump { jt, jf, .. } => {
                        let far_t = distance(&positions, pos, *jt)? > 255;
                        let far_f = distance(&positions, pos, *jf)? > 255;
                        if far_t || far_f {
                            fixes.push((index, far_t, far_f));
                        }
                    }
                    Item::Ja(target) => {
                        distance(&positions, pos, *target)?;
                    }
                    Item::Insn(_) => {}
                }
                pos += 1;
            }
            if fixes.is_empty() {
                return self.emit(&positions);
            }
            // Back to front, so earlier indices stay valid while inserting.
            for (index, far_t, far_f) in fixes.into_iter().rev() {
                let Some((Item::Jump { code, k, jt, jf }, comment)) =
                    self.items.get(index).cloned()
                else {
                    continue;
                };
                let mut inserted = Vec::new();
                let new_t = if far_t {
                    let l = self.label();
                    inserted.push((Item::Bind(l), None));
                    inserted.push((Item::Ja(jt), None));
                    l
                } else {
                    jt
                };
                let new_f = if far_f {
                    let l = self.label();
                    inserted.push((Item::Bind(l), None));
                    inserted.push((Item::Ja(jf), None));
                    l
                } else {
                    jf
                };
                if let Some(slot) = self.items.get_mut(index) {
                    *slot = (
                        Item::Jump {
                            code,
                            k,
                            jt: new_t,
                            jf: new_f,
                        },
                        comment,
                    );
                }
                let at = index + 1;
                self.items.splice(at..at, inserted);
            }
        }
    }

    /// The instruction index each label points at.
    fn positions(&self) -> std::collections::HashMap<Label, usize> {
        let mut out = std::collections::HashMap::new();
        let mut pos = 0usize;
        for (item, _) in &self.items {
            match item {
                Item::Bind(l) => {
                    out.insert(*l, pos);
                }
                _ => pos += 1,
            }
        }
        out
    }

    fn emit(
        &self,
        positions: &std::collections::HashMap<Label, usize>,
    ) -> Result<(Vec<Insn>, Vec<Option<String>>), AsmError> {
        let mut insns = Vec::new();
        let mut comments = Vec::new();
        for (item, comment) in &self.items {
            let pos = insns.len();
            let insn = match item {
                Item::Bind(_) => continue,
                Item::Insn(insn) => *insn,
                Item::Jump { code, k, jt, jf } => {
                    let t = u8::try_from(distance(positions, pos, *jt)?)
                        .map_err(|_| AsmError::Backward(jt.0))?;
                    let f = u8::try_from(distance(positions, pos, *jf)?)
                        .map_err(|_| AsmError::Backward(jf.0))?;
                    Insn::new(*code, t, f, *k)
                }
                Item::Ja(target) => {
                    let d = u32::try_from(distance(positions, pos, *target)?)
                        .map_err(|_| AsmError::Backward(target.0))?;
                    Insn::new(JMP_JA, 0, 0, d)
                }
            };
            insns.push(insn);
            comments.push(comment.clone());
        }
        Ok((insns, comments))
    }
}

/// The offset of a jump at `pos` to `target` (from the next instruction).
fn distance(
    positions: &std::collections::HashMap<Label, usize>,
    pos: usize,
    target: Label,
) -> Result<usize, AsmError> {
    let at = *positions.get(&target).ok_or(AsmError::Unbound(target.0))?;
    at.checked_sub(pos + 1).ok_or(AsmError::Backward(target.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::bpf::{JMP_JEQ_K, RET_K};

    #[test]
    fn near_jumps_resolve_to_offsets() {
        let mut a = Assembler::default();
        let yes = a.label();
        let no = a.label();
        a.jump(JMP_JEQ_K, 1, yes, no, None);
        a.bind(yes);
        a.insn(Insn::new(RET_K, 0, 0, 1), None);
        a.bind(no);
        a.insn(Insn::new(RET_K, 0, 0, 2), None);
        let (insns, _) = a.finish().expect("assembles");
        assert_eq!(insns[0], Insn::new(JMP_JEQ_K, 0, 1, 1));
    }

    #[test]
    fn far_jumps_get_trampolines() {
        let mut a = Assembler::default();
        let far = a.label();
        let near = a.label();
        a.jump(JMP_JEQ_K, 1, far, near, None);
        a.bind(near);
        for i in 0..300 {
            a.insn(Insn::new(RET_K, 0, 0, i), None);
        }
        a.bind(far);
        a.insn(Insn::new(RET_K, 0, 0, 999), None);
        let (insns, _) = a.finish().expect("assembles");
        // jeq → ja far; the false branch skips the trampoline.
        assert_eq!(insns[0], Insn::new(JMP_JEQ_K, 0, 1, 1));
        assert_eq!(insns[1].code, JMP_JA);
        let target = 2 + insns[1].k as usize;
        assert_eq!(insns[target].k, 999);
    }

    #[test]
    fn backward_jumps_are_refused() {
        let mut a = Assembler::default();
        let l = a.label();
        a.bind(l);
        a.insn(Insn::new(RET_K, 0, 0, 0), None);
        a.ja(l);
        assert_eq!(a.finish().err(), Some(AsmError::Backward(l.0)));
    }
}
