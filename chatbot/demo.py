"""Demo data for the built-in bot: FAQ entries and orders (``manage.py seed_demo``).

``seed_orders_and_faq()`` may run any number of times: each FAQ entry and
order is matched by its question or number and rewritten to the demo state.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from chatbot.models import CardStatus, FaqEntry, Order, OrderItem, Shipment

# topic -> language -> (question, keywords, answer). A topic missing a language is
# answered in English (chatbot/bots/builtin.py::match_faq); keywords may be in any language.
# The entry with the most keyword hits wins, so each word is listed once, not in every form the
# matcher already forgives: a keyword in plain ASCII also matches its plurals, and from five
# letters on its typos and accented spellings ("bateria": batería, baterías); a keyword with other
# letters matches as written, also inside a longer word ("zurück": zurückschicken). Phrases such
# as "akku laden" tip a question that names the battery towards charging, and
# tests/chatbot/test_bot.py asks every entry a customer's question in its language.
FAQ: dict[str, dict[str, tuple[str, str, str]]] = {
    "delivery": {
        "en": (
            "How long does delivery take?",
            "delivery, deliver, shipping, ship, arrive, dispatch, 发货, 配送, 运费",
            "Orders leave our UK, EU and US warehouses within 1–2 working days. Delivery then takes "
            "2–5 working days in the UK and the EU and 3–7 in the US. You get a tracking link by email "
            "as soon as your parcel ships, and shipping is free on every e-bike.",
        ),
        "de": (
            "Wie lange dauert die Lieferung?",
            "lieferung, lieferzeit, lieferkosten, geliefert, versand, versandkosten, versenden, verschickt, "
            "zustellung, ankommen, wann kommt, kommt an, lieferung nach, versand nach, dauert die lieferung, "
            "dauert der versand",
            "Bestellungen verlassen unsere Lager im Vereinigten Königreich, in der EU und in den USA "
            "innerhalb von 1–2 Werktagen. Die Lieferung dauert dann 2–5 Werktage im Vereinigten Königreich "
            "und in der EU und 3–7 in den USA. Sobald Ihr Paket verschickt ist, erhalten Sie per E-Mail einen "
            "Link zur Sendungsverfolgung, und der Versand ist bei jedem E-Bike kostenlos.",
        ),
        "fr": (
            "Combien de temps prend la livraison ?",
            "livraison, livre, livrée, expedition, expedier, expédié, expédiez, arrive, délai de livraison, "
            "frais de port, recevoir mon vélo",
            "Les commandes quittent nos entrepôts du Royaume-Uni, de l’UE et des États-Unis sous 1 à 2 jours "
            "ouvrés. La livraison prend ensuite 2 à 5 jours ouvrés au Royaume-Uni et dans l’UE, et 3 à 7 aux "
            "États-Unis. Vous recevez un lien de suivi par e-mail dès l’expédition de votre colis, et la "
            "livraison est gratuite pour tous les vélos électriques.",
        ),
        "it": (
            "Quanto tempo ci vuole per la consegna?",
            "consegna, spedizione, spedito, arrivare, arriverà, tempi di consegna, quando arriva",
            "Gli ordini lasciano i nostri magazzini nel Regno Unito, nell’UE e negli Stati Uniti entro 1–2 "
            "giorni lavorativi. La consegna richiede poi 2–5 giorni lavorativi nel Regno Unito e nell’UE e "
            "3–7 negli Stati Uniti. Non appena il Suo pacco viene spedito, riceverà via e-mail un link per "
            "seguirlo, e la spedizione è gratuita per ogni e-bike.",
        ),
        "es": (
            "¿Cuánto tarda la entrega?",
            "entrega, envio, enviar, envían, llegar, plazo de entrega, gastos de envío, gastos de envio, "
            "tarda en llegar",
            "Los pedidos salen de nuestros almacenes del Reino Unido, la UE y EE. UU. en 1–2 días laborables. "
            "Después, la entrega tarda 2–5 días laborables en el Reino Unido y la UE, y 3–7 en EE. UU. "
            "Recibirá un enlace de seguimiento por correo electrónico en cuanto se envíe su paquete, y el "
            "envío es gratuito en todas las bicicletas eléctricas.",
        ),
        "nl": (
            "Hoe lang duurt de levering?",
            "levering, levertijd, geleverd, bezorging, bezorgd, verzending, verzonden, verzendkosten, "
            "aankomen, wanneer komt, komt aan",
            "Bestellingen verlaten onze magazijnen in het Verenigd Koninkrijk, de EU en de VS binnen 1–2 "
            "werkdagen. De levering duurt daarna 2–5 werkdagen in het VK en de EU en 3–7 in de VS. Zodra uw "
            "pakket is verzonden, ontvangt u per e-mail een link om het te volgen, en de verzending is gratis "
            "bij elke e-bike.",
        ),
        "pl": (
            "Ile trwa dostawa?",
            "dostawa, dostarczenie, dostarczyć, dostarczony, wysyłka, wysyłki, wysyłkę, wysłać, wysłany, "
            "wysłane, wyślecie, wysyłacie, dotrze, kurier, kiedy dotrze, kiedy przyjdzie, czas dostawy",
            "Zamówienia opuszczają nasze magazyny w Wielkiej Brytanii, UE i USA w ciągu 1–2 dni roboczych. "
            "Dostawa trwa następnie 2–5 dni roboczych w Wielkiej Brytanii i UE oraz 3–7 w USA. Gdy tylko "
            "Państwa paczka zostanie nadana, otrzymają Państwo e-mailem link do śledzenia przesyłki, a "
            "wysyłka każdego roweru elektrycznego jest bezpłatna.",
        ),
    },
    "returns": {
        "en": (
            "How do I return an item?",
            "return, returns, refund, send back, money back, exchange, 退货, 退款",
            "You can return anything within 30 days of delivery, unused and in its original packaging. "
            "Tell us your order number here and we'll email a prepaid return label; your refund reaches "
            "your original payment method within 5–7 working days of the return arriving.",
        ),
        "de": (
            "Wie kann ich einen Artikel zurückgeben?",
            "rückgabe, zurück, rücksendung, retoure, retournieren, erstattung, rückerstattung, erstattet, "
            "umtausch, widerruf, geld zurück, mein geld",
            "Sie können jeden Artikel innerhalb von 30 Tagen nach der Lieferung zurückgeben, unbenutzt und in "
            "der Originalverpackung. Nennen Sie uns hier Ihre Bestellnummer, dann senden wir Ihnen ein "
            "vorfrankiertes Rücksendeetikett per E-Mail; die Erstattung geht innerhalb von 5–7 Werktagen nach "
            "Eingang Ihrer Rücksendung auf Ihrem ursprünglichen Zahlungsmittel ein.",
        ),
        "fr": (
            "Comment retourner un article ?",
            "retour, renvoyer, renvoi, rembourser, remboursement, échange, échanger, retractation",
            "Vous pouvez retourner n’importe quel article dans les 30 jours suivant la livraison, non utilisé "
            "et dans son emballage d’origine. Indiquez-nous ici votre numéro de commande et nous vous "
            "enverrons par e-mail une étiquette de retour prépayée ; le remboursement est effectué sur votre "
            "moyen de paiement d’origine dans les 5 à 7 jours ouvrés suivant la réception du retour.",
        ),
        "it": (
            "Come posso restituire un articolo?",
            "reso, resi, restituire, rimborso, rimborsare, recesso, rispedire, rimandare, indietro, soldi indietro",
            "Può restituire qualsiasi articolo entro 30 giorni dalla consegna, purché non utilizzato e nella "
            "confezione originale. Ci indichi qui il Suo numero d’ordine e Le invieremo via e-mail "
            "un’etichetta di reso prepagata; il rimborso arriverà sul metodo di pagamento originale entro 5–7 "
            "giorni lavorativi dal ricevimento del reso.",
        ),
        "es": (
            "¿Cómo devuelvo un artículo?",
            "devolver, devolverlo, devolverla, devuelvo, devolucion, reembolso, reembolsar, desistimiento",
            "Puede devolver cualquier artículo en un plazo de 30 días desde la entrega, sin usar y en su "
            "embalaje original. Indíquenos aquí su número de pedido y le enviaremos por correo electrónico "
            "una etiqueta de devolución prepagada; el reembolso llegará a su método de pago original en un "
            "plazo de 5–7 días laborables desde que recibamos la devolución.",
        ),
        "nl": (
            "Hoe stuur ik een artikel terug?",
            "retour, retourneren, retourzending, terugsturen, terug, terugbetaling, omruilen, herroeping, "
            "herroepingsrecht, geld terug",
            "U kunt elk artikel binnen 30 dagen na levering retourneren, ongebruikt en in de originele "
            "verpakking. Geef ons hier uw bestelnummer door, dan mailen wij u een gefrankeerd retourlabel; "
            "het bedrag wordt binnen 5–7 werkdagen na ontvangst van uw retour teruggestort op de "
            "betaalmethode waarmee u hebt betaald.",
        ),
        "pl": (
            "Jak mogę zwrócić produkt?",
            "zwrot, zwrócić, zwrócę, zwracać, oddać, odesłać, odeślę, pieniądze, refundacja, zwrot pieniędzy, "
            "odstąpienie od umowy",
            "Każdy produkt mogą Państwo zwrócić w ciągu 30 dni od dostawy, jeśli jest nieużywany i znajduje "
            "się w oryginalnym opakowaniu. Wystarczy podać nam tutaj numer zamówienia, a wyślemy Państwu "
            "e-mailem opłaconą etykietę zwrotną; zwrot środków trafi na pierwotną metodę płatności w ciągu "
            "5–7 dni roboczych od otrzymania przesyłki zwrotnej.",
        ),
    },
    "warranty": {
        "en": (
            "What does the warranty cover?",
            "warranty, guarantee, broken, defect, faulty, repair, 保修, 质保",
            "Frames carry a 2-year warranty; motors, batteries, displays and chargers 1 year. It covers "
            "manufacturing defects, not wear parts (tyres, brake pads, chains) or crash damage. Send us "
            "your order number and a photo or video of the problem and we'll sort out a repair or a part.",
        ),
        "de": (
            "Was deckt die Garantie ab?",
            "garantie, gewährleistung, defekt, kaputt, beschädigt, reparatur, reparieren, mangel, "
            "herstellungsfehler, ersatzteil, funktioniert nicht, auf garantie, unter garantie, "
            "von der garantie, gilt die garantie, garantie auf",
            "Auf Rahmen gewähren wir 2 Jahre Garantie; auf Motoren, Akkus, Displays und Ladegeräte 1 Jahr. "
            "Sie deckt Herstellungsfehler ab, nicht aber Verschleißteile (Reifen, Bremsbeläge, Ketten) oder "
            "Unfallschäden. Senden Sie uns Ihre Bestellnummer und ein Foto oder Video des Problems, dann "
            "kümmern wir uns um eine Reparatur oder ein Ersatzteil.",
        ),
        "fr": (
            "Que couvre la garantie ?",
            "garantie, defaut, defectueux, defectueuse, panne, casse, reparation, reparer, couvert, sav, "
            "ne fonctionne pas, ne fonctionne plus, ne marche pas, ne marche plus, pris en charge, "
            "prise en charge, sous garantie, par la garantie",
            "Les cadres sont garantis 2 ans ; les moteurs, batteries, écrans et chargeurs 1 an. La garantie "
            "couvre les défauts de fabrication, mais pas les pièces d’usure (pneus, plaquettes de frein, "
            "chaînes) ni les dommages causés par un accident. Envoyez-nous votre numéro de commande et une "
            "photo ou une vidéo du problème, et nous organiserons une réparation ou l’envoi d’une pièce.",
        ),
        "it": (
            "Cosa copre la garanzia?",
            "garanzia, difetto, guasto, rotto, riparazione, riparare, ricambio, non funziona, in garanzia, "
            "dalla garanzia",
            "I telai hanno una garanzia di 2 anni; motori, batterie, display e caricabatterie di 1 anno. La "
            "garanzia copre i difetti di fabbricazione, non le parti soggette a usura (pneumatici, pastiglie "
            "dei freni, catene) né i danni da incidente. Ci invii il Suo numero d’ordine e una foto o un "
            "video del problema e Le organizzeremo una riparazione o un ricambio.",
        ),
        "es": (
            "¿Qué cubre la garantía?",
            "garantia, defecto, averia, roto, rota, reparacion, repararlo, arreglar, recambio, no funciona, "
            "en garantía, en garantia, cubre la garantía, cubre la garantia",
            "Los cuadros tienen una garantía de 2 años; los motores, baterías, pantallas y cargadores, de 1 "
            "año. La garantía cubre los defectos de fabricación, pero no las piezas de desgaste (neumáticos, "
            "pastillas de freno, cadenas) ni los daños por accidente. Envíenos su número de pedido y una foto "
            "o un vídeo del problema, y le gestionaremos una reparación o una pieza de recambio.",
        ),
        "nl": (
            "Wat valt er onder de garantie?",
            "garantie, defect, kapot, reparatie, repareren, fabricagefout, onderdeel, werkt niet, "
            "onder de garantie, onder garantie",
            "Op frames zit 2 jaar garantie; op motoren, accu’s, displays en opladers 1 jaar. De garantie dekt "
            "fabricagefouten, maar geen slijtageonderdelen (banden, remblokken, kettingen) of schade door een "
            "ongeval. Stuur ons uw bestelnummer en een foto of video van het probleem, dan regelen wij een "
            "reparatie of een onderdeel.",
        ),
        "pl": (
            "Co obejmuje gwarancja?",
            "gwarancja, reklamacja, reklamować, usterka, wada, wady, wadliwy, zepsuty, zepsuł, uszkodzony, "
            "uszkodzenie, naprawa, nie działa, na gwarancji, podlega gwarancji, w ramach gwarancji",
            "Gwarancja na ramy wynosi 2 lata, a na silniki, akumulatory, wyświetlacze i ładowarki – 1 rok. "
            "Obejmuje wady fabryczne, ale nie obejmuje części eksploatacyjnych (opon, klocków hamulcowych, "
            "łańcuchów) ani uszkodzeń powstałych w wyniku wypadku. Prosimy przesłać nam numer zamówienia oraz "
            "zdjęcie lub film pokazujący problem, a zorganizujemy naprawę lub część zamienną.",
        ),
    },
    "battery": {
        "en": (
            "How far does the battery go, and how do I look after it?",
            "battery, range, mileage, km, miles, cells, 电池, 续航",
            "Range depends on the model and the assist level: the D11 goes up to 100 km, the C11 up to "
            "130 km. To keep the battery healthy, store it between 40% and 80% charge in a cool, dry "
            "place, charge it at least once every three months, and avoid charging below 0 °C.",
        ),
        "de": (
            "Welche Reichweite hat der Akku und wie pflege ich ihn?",
            "akku, batterie, akkulaufzeit, reichweite, kilometer, lebensdauer, pflege, akkupflege, lagern, "
            "überwintern, winter, zellen, kapazität, wie weit, mit einer ladung, pro ladung",
            "Die Reichweite hängt vom Modell und von der Unterstützungsstufe ab: Das D11 schafft bis zu "
            "100 km, das C11 bis zu 130 km. Damit der Akku gesund bleibt, lagern Sie ihn mit einem Ladestand "
            "zwischen 40 % und 80 % an einem kühlen, trockenen Ort, laden Sie ihn mindestens alle drei Monate "
            "und vermeiden Sie das Laden unter 0 °C.",
        ),
        "fr": (
            "Quelle est l’autonomie de la batterie et comment l’entretenir ?",
            "batterie, autonomie, kilometres, stocker, entretenir, hiver, cellules, capacite, durée de vie, "
            "combien de kilomètres, combien de km, avec une charge, une seule charge",
            "L’autonomie dépend du modèle et du niveau d’assistance : le D11 parcourt jusqu’à 100 km, le C11 "
            "jusqu’à 130 km. Pour garder la batterie en bonne santé, stockez-la avec une charge comprise "
            "entre 40 % et 80 % dans un endroit frais et sec, rechargez-la au moins une fois tous les trois "
            "mois et évitez de la recharger en dessous de 0 °C.",
        ),
        "it": (
            "Quanta autonomia ha la batteria e come devo conservarla?",
            "batteria, autonomia, chilometri, conservarla, conservo, conservazione, manutenzione, inverno, "
            "celle, capacita, quanti km, durata della batteria, con una carica",
            "L’autonomia dipende dal modello e dal livello di assistenza: la D11 percorre fino a 100 km, la "
            "C11 fino a 130 km. Per mantenere la batteria in buona salute, la conservi con una carica tra il "
            "40% e l’80% in un luogo fresco e asciutto, la ricarichi almeno una volta ogni tre mesi ed eviti "
            "di ricaricarla sotto 0 °C.",
        ),
        "es": (
            "¿Cuánta autonomía tiene la batería y cómo debo cuidarla?",
            "bateria, autonomia, kilometros, alcance, guardar, guardo, almacenar, cuidar, invierno, celdas, "
            "capacidad, vida útil, vida util, con una carga",
            "La autonomía depende del modelo y del nivel de asistencia: la D11 llega hasta 100 km y la C11 "
            "hasta 130 km. Para mantener la batería en buen estado, guárdela con una carga de entre el 40 % y "
            "el 80 % en un lugar fresco y seco, cárguela al menos una vez cada tres meses y evite cargarla "
            "por debajo de 0 °C.",
        ),
        "nl": (
            "Wat is het bereik van de accu en hoe onderhoud ik hem?",
            "accu, batterij, bereik, actieradius, kilometer, levensduur, opslaan, bewaren, bewaar, onderhoud, "
            "winter, cellen, capaciteit, hoeveel km, hoe ver, volle accu, per lading",
            "De actieradius hangt af van het model en het ondersteuningsniveau: de D11 komt tot 100 km, de "
            "C11 tot 130 km. Houd de accu gezond: bewaar hem met een lading tussen 40% en 80% op een koele, "
            "droge plek, laad hem minstens eens per drie maanden op en laad hem niet op bij temperaturen "
            "onder 0 °C.",
        ),
        "pl": (
            "Jaki jest zasięg baterii i jak o nią dbać?",
            "bateria, akumulator, zasięg, kilometrów, żywotność, przechowywać, przechowywanie, zima, zimą, "
            "zimie, ogniwa, pojemność, jak daleko, na jednym ładowaniu",
            "Zasięg zależy od modelu i poziomu wspomagania: D11 przejedzie do 100 km, a C11 do 130 km. Aby "
            "akumulator zachował dobrą kondycję, prosimy przechowywać go przy poziomie naładowania od 40% do "
            "80% w chłodnym, suchym miejscu, ładować co najmniej raz na trzy miesiące i unikać ładowania w "
            "temperaturze poniżej 0 °C.",
        ),
    },
    "charging": {
        "en": (
            "How do I charge my e-bike?",
            "charge, charging, charger, plug, charge time, 充电, 充电器",
            "Use the charger that came with your bike. A full charge takes 4–6 hours; the charger's light "
            "turns green when it is done. You can charge the battery on the bike or take it out; don't "
            "leave it on the charger for days at a time.",
        ),
        "de": (
            "Wie lade ich mein E-Bike auf?",
            "laden, geladen, aufladen, lade, lädt, ladung, ladegerät, ladezeit, ladedauer, ladekabel, "
            "netzteil, stecker, steckdose, akku laden, akku aufladen, akku aufzuladen, akku zu laden, "
            "dauert das laden, dauert das aufladen",
            "Verwenden Sie das Ladegerät, das Ihrem E-Bike beilag. Eine volle Ladung dauert 4–6 Stunden; die "
            "Leuchte am Ladegerät wird grün, sobald der Ladevorgang abgeschlossen ist. Sie können den Akku am "
            "Fahrrad laden oder herausnehmen; lassen Sie ihn aber nicht tagelang am Ladegerät hängen.",
        ),
        "fr": (
            "Comment recharger mon vélo électrique ?",
            "charger, chargement, brancher, voyant, temps de charge, charger la batterie, prise électrique",
            "Utilisez le chargeur fourni avec votre vélo. Une charge complète prend 4 à 6 heures ; le voyant "
            "du chargeur passe au vert une fois la charge terminée. Vous pouvez recharger la batterie sur le "
            "vélo ou la retirer ; ne la laissez pas branchée au chargeur pendant des jours.",
        ),
        "it": (
            "Come ricarico la mia bici elettrica?",
            "ricaricare, ricarico, caricatore, caricabatterie, spina, presa, alimentatore, tempo di ricarica, "
            "carica completa, caricare completamente, ricaricare la batteria, caricare la batteria",
            "Usi il caricabatterie fornito con la Sua bici. Una ricarica completa richiede 4–6 ore; la spia "
            "del caricabatterie diventa verde a ricarica completata. Può ricaricare la batteria direttamente "
            "sulla bici oppure estrarla; non la lasci collegata al caricabatterie per giorni.",
        ),
        "es": (
            "¿Cómo cargo mi bicicleta eléctrica?",
            "cargar, enchufe, enchufar, cómo cargo, como cargo, está cargando, tiempo de carga, "
            "tarda en cargar, carga completa, cargar completamente, cargar la batería, cargar la bateria",
            "Utilice el cargador que venía con su bicicleta. Una carga completa tarda 4–6 horas; la luz del "
            "cargador se pone verde cuando termina la carga. Puede cargar la batería en la bicicleta o "
            "extraerla; no la deje conectada al cargador durante días.",
        ),
        "nl": (
            "Hoe laad ik mijn e-bike op?",
            "opladen, oplader, opgeladen, laad, laadt, laadtijd, stekker, stopcontact, adapter, accu opladen, "
            "accu laden",
            "Gebruik de oplader die bij uw fiets is geleverd. Volledig opladen duurt 4–6 uur; het lampje van "
            "de oplader wordt groen als het opladen klaar is. U kunt de accu op de fiets opladen of eruit "
            "halen; laat hem niet dagenlang aan de oplader hangen.",
        ),
        "pl": (
            "Jak naładować rower elektryczny?",
            "ładowanie, ładowania, ładować, naładować, ładuje, ładuję, ładowarka, ładowarki, ładowarkę, "
            "ładowarce, gniazdko, wtyczka, ładuje się, czas ładowania, ładowanie baterii, "
            "ładowanie akumulatora, ładować baterię, ładować akumulator",
            "Prosimy używać ładowarki dołączonej do roweru. Pełne ładowanie trwa 4–6 godzin; po jego "
            "zakończeniu kontrolka na ładowarce zaświeci się na zielono. Akumulator można ładować "
            "bezpośrednio w rowerze lub po wyjęciu; prosimy nie zostawiać go podłączonego do ładowarki całymi "
            "dniami.",
        ),
    },
}

DPD_NUMBER = "15501234567890"
ROYAL_MAIL_NUMBER = "RM123456785GB"


def _orders(now) -> list[dict]:
    return [
        {
            "number": "UK22080",
            "status": Order.Status.PARTIALLY_SHIPPED,
            "currency": "GBP",
            "total": "1048.00",
            "placed_at": now - timedelta(days=4),
            "customer_name": "Oliver Brown",
            "customer_email": "oliver@example.com",
            "shipments": {
                "dpd": ("DPD", DPD_NUMBER, f"https://track.dpd.co.uk/parcels/{DPD_NUMBER}", CardStatus.IN_TRANSIT),
                "rm": (
                    "Royal Mail",
                    ROYAL_MAIL_NUMBER,
                    f"https://www.royalmail.com/track-your-item#/tracking-results/{ROYAL_MAIL_NUMBER}",
                    CardStatus.SHIPPED,
                ),
            },
            "items": [
                ("Fiido D11 Folding E-bike", 1, "999.00", "", "dpd"),
                ("Fiido Rear Rack", 1, "49.00", "", "rm"),
            ],
        },
        {
            "number": "US10432",
            "status": Order.Status.REFUNDED,
            "currency": "USD",
            "total": "1548.00",
            "placed_at": now - timedelta(days=41),
            "customer_name": "Emma Johnson",
            "customer_email": "emma@example.com",
            "shipments": {},
            "items": [
                ("Fiido X Folding E-bike", 1, "1499.00", CardStatus.RETURNED_REFUNDED, None),
                ("Worry-free Purchase", 1, "49.00", CardStatus.REFUNDED, None),
            ],
        },
        {
            "number": "EU30517",
            "status": Order.Status.DELIVERED,
            "currency": "EUR",
            "total": "1278.00",
            "placed_at": now - timedelta(days=20),
            "customer_name": "Lena Schmidt",
            "customer_email": "lena@example.com",
            "shipments": {
                "dhl": (
                    "DHL",
                    "00340434161094042557",
                    "https://www.dhl.com/de-en/home/tracking.html?tracking-id=00340434161094042557",
                    CardStatus.RECEIVED,
                ),
            },
            "items": [
                ("Fiido C11 City E-bike", 1, "1199.00", "", "dhl"),
                ("Extended Warranty (2 years)", 1, "79.00", CardStatus.ACTIVE, None),
            ],
        },
        {
            "number": "DE41290",
            "status": Order.Status.PROCESSING,
            "currency": "EUR",
            "total": "1899.00",
            "placed_at": now - timedelta(days=1),
            "customer_name": "Jonas Weber",
            "customer_email": "jonas@example.com",
            "shipments": {},
            "items": [("Fiido M1 Pro Fat Tyre E-bike", 1, "1899.00", "", None)],
        },
        {
            "number": "PL50321",
            "status": Order.Status.SHIPPED,
            "currency": "PLN",
            "total": "4599.00",
            "placed_at": now - timedelta(days=6),
            "customer_name": "Anna Nowak",
            "customer_email": "anna@example.com",
            "shipments": {
                "inpost": (
                    "InPost",
                    "620123456789012345678901",
                    "https://inpost.pl/sledzenie-przesylek?number=620123456789012345678901",
                    CardStatus.DELIVERY_FAILED,
                ),
            },
            "items": [("Fiido Titan Cargo E-bike", 1, "4599.00", "", "inpost")],
        },
    ]


@transaction.atomic
def seed_orders_and_faq() -> None:
    """Create or reset the demo FAQ and orders (``UK22080`` and friends, each with
    its customer's email: the bot shows an order only with it)."""
    for topic, languages in FAQ.items():
        for language, (question, keywords, answer) in languages.items():
            FaqEntry.objects.update_or_create(
                topic=topic,
                language=language,
                defaults={"question": question, "keywords": keywords, "answer": answer, "is_active": True},
            )
    for data in _orders(timezone.now()):
        order, created = Order.objects.get_or_create(
            number=data["number"],
            defaults={key: data[key] for key in ("status", "currency", "total", "placed_at")},
        )
        if not created:
            order.status, order.currency, order.total = data["status"], data["currency"], data["total"]
        order.customer_name, order.customer_email = data["customer_name"], data["customer_email"]
        order.save()
        order.items.all().delete()
        order.shipments.all().delete()
        shipments = {
            key: Shipment.objects.create(
                order=order,
                carrier=carrier,
                tracking_number=number,
                tracking_url=url,
                status=status,
                shipped_at=order.placed_at + timedelta(days=1),
            )
            for key, (carrier, number, url, status) in data["shipments"].items()
        }
        for name, quantity, price, status, shipment in data["items"]:
            OrderItem.objects.create(
                order=order,
                product_name=name,
                quantity=quantity,
                price=Decimal(price),
                status=status,
                shipment=shipments.get(shipment) if shipment else None,
            )
