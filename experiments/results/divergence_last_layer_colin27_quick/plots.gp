# Made by `qat table`; redraw with: gnuplot plots.gp (from this folder)
set terminal pngcairo size 900,600 noenhanced
set grid
set output 'dice_vs_bits.png'
set title 'divergence_last_layer_colin27_quick: val Dice (last epoch) against weight bits'
set xlabel 'weight bits (log scale; 32 = float)'
set ylabel 'Dice %'
set logscale x 2
set offsets graph 0.05, graph 0.05, 0, 0
set yrange [0:100]
set key bottom right
plot 'dice_vs_bits.dat' index 0 using 1:2:3 with yerrorlines lw 2 title 'ours ours_full-full', '' index 0 using 1:4 with linespoints dt 2 title 'paper ours_full-full', \
     'dice_vs_bits.dat' index 1 using 1:2:3 with yerrorlines lw 2 title 'ours ours_full-quant', '' index 1 using 1:4 with linespoints dt 2 title 'paper ours_full-quant', \
     'dice_vs_bits.dat' index 2 using 1:2:3 with yerrorlines lw 2 title 'ours ours_quant-full', '' index 2 using 1:4 with linespoints dt 2 title 'paper ours_quant-full', \
     'dice_vs_bits.dat' index 3 using 1:2:3 with yerrorlines lw 2 title 'ours paper_full-full', '' index 3 using 1:4 with linespoints dt 2 title 'paper paper_full-full', \
     'dice_vs_bits.dat' index 4 using 1:2:3 with yerrorlines lw 2 title 'ours paper_full-quant', '' index 4 using 1:4 with linespoints dt 2 title 'paper paper_full-quant', \
     'dice_vs_bits.dat' index 5 using 1:2:3 with yerrorlines lw 2 title 'ours paper_quant-full', '' index 5 using 1:4 with linespoints dt 2 title 'paper paper_quant-full'
unset logscale x
set offsets 0, 0, 0, 0
set autoscale y
set output 'curves_ours_full-full.png'
set title 'divergence_last_layer_colin27_quick ours_full-full: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_ours_full-full.dat' index 0 using 1:2 with lines lw 2 title "q4_0-q0_2"
set output 'curves_ours_full-quant.png'
set title 'divergence_last_layer_colin27_quick ours_full-quant: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_ours_full-quant.dat' index 0 using 1:2 with lines lw 2 title "q4_0-q0_2"
set output 'curves_ours_quant-full.png'
set title 'divergence_last_layer_colin27_quick ours_quant-full: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_ours_quant-full.dat' index 0 using 1:2 with lines lw 2 title "q4_0-q0_2"
set output 'curves_paper_full-full.png'
set title 'divergence_last_layer_colin27_quick paper_full-full: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_paper_full-full.dat' index 0 using 1:2 with lines lw 2 title "q4_0-q0_2"
set output 'curves_paper_full-quant.png'
set title 'divergence_last_layer_colin27_quick paper_full-quant: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_paper_full-quant.dat' index 0 using 1:2 with lines lw 2 title "q4_0-q0_2"
set output 'curves_paper_quant-full.png'
set title 'divergence_last_layer_colin27_quick paper_quant-full: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_paper_quant-full.dat' index 0 using 1:2 with lines lw 2 title "q4_0-q0_2"
