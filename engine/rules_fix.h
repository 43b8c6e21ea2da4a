/* SPDX-License-Identifier: ISC */
/*
 * rules_fix.h - what to change, for the verdicts that are ours or the
 * message's: shared by the rule table (engine/rules.c, the sender.KEY and
 * message.KEY verdicts) and the enhanced-status table (engine/reply.c).
 * Private to those two.
 */
#ifndef CAMPAIGN_RULES_FIX_H
#define CAMPAIGN_RULES_FIX_H

#define FIX_HELO                                                               \
    "set helo in [relay] to a fully-qualified name that resolves to this "     \
    "host (and this host's address back to it)"
#define FIX_TLS                                                                \
    "the relay requires TLS: set tls in [relay] to starttls (or smtps)"
#define FIX_AUTH                                                               \
    "the relay wants authentication: set username and password_env or "        \
    "password_file in [relay], and check that they are right"
#define FIX_RELAY                                                              \
    "the relay does not let this client relay: check [relay] username and "    \
    "password (and host), or ask the relay's admin to allow this client"
#define FIX_IDENTITY                                                           \
    "the relay sends only from senders verified in its account: verify "       \
    "[sender] from and bounce_domain (or their domain) with the relay"
#define FIX_SENDER                                                             \
    "the relay refuses the envelope sender (bounce_domain): check [sender] "   \
    "bounce_domain exists in DNS and that the relay accepts it"
#define FIX_SPF                                                                \
    "publish SPF for the sender's domain and for [sender] bounce_domain, "     \
    "listing the relay's addresses"
#define FIX_DKIM                                                               \
    "sign with a [dkim] key of the sender's domain and publish its public "    \
    "key in DNS"
#define FIX_DMARC                                                              \
    "publish SPF/DKIM/DMARC for the sender's domain: sign with a [dkim] key "  \
    "of the From domain and publish SPF and a DMARC record that align"
#define FIX_ACCOUNT                                                            \
    "the relay has suspended sending for this account: see its dashboard "     \
    "or ask its admin"
#define FIX_RATE                                                               \
    "the relay or the receiver refuses our sending rate: lower rate in "       \
    "[limits] (or the domain's limit) and send the rest later"
#define FIX_BLOCKLIST                                                          \
    "this client's address (or the relay's, or the sender's domain) is on a "  \
    "blocklist: look it up on the list the reply names, fix the cause and "    \
    "request removal, or send through another relay"
#define FIX_CLIENT                                                             \
    "the receiver refuses this client's address (often for missing reverse "   \
    "DNS): give the sending address a PTR record that resolves back to it, "   \
    "or ask the relay's admin"
#define FIX_REPUTATION                                                         \
    "the receiver refuses mail from this address or domain for its "           \
    "reputation: check the receiver's postmaster tools and the blocklists, "   \
    "send less, or send through another relay"
#define FIX_ACL                                                                \
    "the relay's access rules refuse this sender or client: ask its admin "    \
    "which rule; check [sender] bounce_domain and [relay] username"
#define FIX_PROTOCOL                                                           \
    "the relay refused a command of ours: check [relay] tls and auth, and "    \
    "report the reply as a bug"
#define FIX_MAIL                                                               \
    "the relay refuses MAIL FROM: check [sender] bounce_domain and the "       \
    "relay's log for the reason"
#define FIX_SIZE                                                               \
    "the message is bigger than the relay or the receiver accepts: make it "   \
    "smaller (fewer or smaller images and attachments)"
#define FIX_FORM                                                               \
    "the message's form (MIME, headers, line length) is refused: report "      \
    "the reply as a bug"
#define FIX_CONTENT                                                            \
    "the message's content is refused as spam or unsafe: revise it (links, "   \
    "images, wording, attachments) and test it before sending again"

#endif
